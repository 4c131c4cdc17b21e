import { InvalidArgumentError, type Command } from "@commander-js/extra-typings";
import type { RegistrationTokenInfo } from "../../server/storage/storage.js";
import { CliError, output } from "../context.js";
import { dataDirOption } from "../data-dir-option.js";
import { parseDuration } from "../duration.js";
import type { GlobalOptions } from "../global-options.js";

/** `backchannel admin`, as admin.ts made it: no arguments or options of its own. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- commander's type for "no options"
type AdminCommand = Command<[], {}, GlobalOptions>;
import { withRelayStorage } from "../relay-storage.js";

const day = 24 * 60 * 60_000;
/** A token is a standing invitation to register: it should not outlive the operator's memory of it. */
const maxExpiry = 365 * day;
const maxUses = 10_000;

/**
 * `backchannel admin token …`: registration tokens of a relay whose registration is closed (the
 * default). Like backup and restore they work on the relay's database directly, on the relay's
 * machine, not over HTTP: whoever can run them can read the data dir anyway, and the relay
 * needs no admin API to protect. The rules (a token's shape, its hash) live in
 * server/registration/registration-token.ts; this only formats.
 */
export function registerAdminTokenCommands(admin: AdminCommand): void {
  const token = admin
    .command("token")
    .description("registration tokens: only their holders may register a mediator on this relay");

  token
    .command("create")
    .description("make a registration token and print it once (the relay keeps only its hash)")
    .option(
      "--uses <n>",
      `how many mediator devices it may register (default 1, at most ${maxUses})`,
      parseUses,
    )
    .option(
      "--expires <duration>",
      "how long it stays valid: 30m, 24h, 7d (default 7d, at most 365d), or never",
      parseExpiry,
    )
    .option("--note <text>", "your note about it (who it is for), shown by `admin token list`")
    .addOption(dataDirOption())
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const { newRegistrationToken } = await import("../../server/registration/registration-token.js");
      const made = newRegistrationToken();
      const now = Date.now();
      const expiresIn = o.expires === undefined ? 7 * day : o.expires;
      const record = {
        tokenId: made.tokenId,
        uses: o.uses ?? 1,
        ...(expiresIn === "never" ? {} : { expiresAt: now + expiresIn }),
        ...(o.note !== undefined ? { note: o.note } : {}),
        createdAt: now,
      };
      await withRelayStorage(o.dataDir, (s) =>
        s.createRegistrationToken({ ...record, tokenHash: made.tokenHash }),
      );
      output(
        o,
        { token: made.token, ...describe({ ...record, used: 0, revoked: false }) },
        `Registration token ${made.tokenId} (${usesText(record.uses)}, ${expiryText(record)}):\n\n${made.token}\n\n` +
          "It is shown only now: the relay keeps its hash. Give it to the mediator over a channel you trust; they run\n" +
          '  backchannel mediator init --server <this relay\'s URL> --name "…" --token <token>\n' +
          "(or set BACKCHANNEL_REGISTRATION_TOKEN), or enter it in the console. Revoke it with: backchannel admin token revoke " +
          made.tokenId,
      );
    });

  token
    .command("list")
    .description("list the registration tokens (never the tokens themselves)")
    .addOption(dataDirOption())
    .action(async (_o, cmd) => {
      const o = cmd.optsWithGlobals();
      const tokens = await withRelayStorage(o.dataDir, (s) => s.listRegistrationTokens());
      output(
        o,
        { tokens: tokens.map(describe) },
        tokens.length === 0 ? "No registration tokens." : table(tokens),
      );
    });

  token
    .command("revoke")
    .description("revoke a registration token for good (devices it registered stay registered)")
    .argument("<id>", "the token's id, from `admin token list`")
    .addOption(dataDirOption())
    .action(async (tokenId, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      const found = await withRelayStorage(o.dataDir, (s) => s.revokeRegistrationToken(tokenId));
      if (!found)
        throw new CliError(
          "not_found",
          `no registration token ${tokenId} (see: backchannel admin token list)`,
        );
      output(
        o,
        { tokenId, revoked: true },
        `Revoked registration token ${tokenId}: it registers nobody from now on.`,
      );
    });
}

function parseUses(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > maxUses)
    throw new InvalidArgumentError(`a whole number from 1 to ${maxUses}`);
  return n;
}

function parseExpiry(value: string): number | "never" {
  if (value === "never") return "never";
  const ms = parseDuration(value);
  if (ms > maxExpiry) throw new InvalidArgumentError("at most 365d (or never)");
  return ms;
}

/** The JSON form: times as ISO strings, the state spelled out. */
function describe(t: RegistrationTokenInfo) {
  return {
    tokenId: t.tokenId,
    uses: t.uses,
    used: t.used,
    state: state(t),
    expiresAt: t.expiresAt === undefined ? null : new Date(t.expiresAt).toISOString(),
    note: t.note ?? null,
    createdAt: new Date(t.createdAt).toISOString(),
  };
}

function state(t: RegistrationTokenInfo, now = Date.now()): "valid" | "used up" | "revoked" | "expired" {
  if (t.revoked) return "revoked";
  if (t.used >= t.uses) return "used up";
  if (t.expiresAt !== undefined && t.expiresAt <= now) return "expired";
  return "valid";
}

const usesText = (uses: number) => (uses === 1 ? "one use" : `${uses} uses`);
const expiryText = (t: { expiresAt?: number }) =>
  t.expiresAt === undefined ? "never expires" : `valid until ${new Date(t.expiresAt).toISOString()}`;

function table(tokens: readonly RegistrationTokenInfo[]): string {
  const rows = tokens.map((t) => {
    const d = describe(t);
    return [
      d.tokenId,
      d.state,
      `${d.used}/${d.uses}`,
      d.expiresAt ?? "never",
      d.createdAt.slice(0, 16),
      d.note ?? "",
    ];
  });
  const head = ["id", "state", "used", "expires", "created", "note"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
