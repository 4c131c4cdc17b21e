import { CliError, output, outputFailure } from "../context.js";
import { dataDirOption } from "../data-dir-option.js";
import type { GlobalOptions, Program } from "../global-options.js";
import { registerAdminTokenCommands } from "./admin-token.js";

/**
 * `backchannel admin …`: the operator's backup and restore of a relay's database. The rules
 * (a consistent snapshot, never a half file, the checks before a restore) live in the relay's
 * storage (server/storage/sqlite/backup.ts, restore.ts); this only formats. The server modules are
 * loaded when a command runs, as `serve` does, so other commands never load the relay.
 */
export function registerAdminCommand(program: Program): void {
  const admin = program
    .command("admin")
    .description(
      "operate a relay: back up and restore its database, issue registration tokens (run on the relay's machine)",
    );
  registerAdminTokenCommands(admin);

  admin
    .command("backup")
    .description(
      "copy the relay's SQLite database to <file> while it keeps serving (a consistent snapshot, 0600); for PostgreSQL, prints the pg_dump command",
    )
    .argument("<file>", "where the copy goes (its directory must exist)")
    .addOption(dataDirOption())
    .option("--force", "replace <file> if it exists")
    .action(async (file, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      await refuseForPostgres(o, "backup", file);
      const { backupDatabase } = await import("../../server/storage/sqlite/backup.js");
      const dataDir = await relayDataDir(o.dataDir);
      const r = await backupDatabase({ dataDir, file, force: o.force === true, onProgress: progressLines() });
      output(
        o,
        r,
        `Backed up the relay database in ${dataDir} to ${r.file}: ${mebibytes(r.bytes)} (${r.pages} pages, schema version ${r.schemaVersion}) in ${seconds(r.durationMs)}.\nIt holds everything the relay had acknowledged when the backup began. Restore with:\n  backchannel admin restore ${r.file} --data-dir <empty dir>`,
      );
    });

  admin
    .command("restore")
    .description(
      "put a backup in place as the data dir's database, with the relay stopped (refuses a database in use; checks the file first); for PostgreSQL, prints the pg_restore command",
    )
    .argument("<file>", "a backup made by `backchannel admin backup`")
    .addOption(dataDirOption())
    .option("--force", "replace the database the data dir holds (never one a running relay has open)")
    .action(async (file, _o, cmd) => {
      const o = cmd.optsWithGlobals();
      await refuseForPostgres(o, "restore", file);
      const { restoreDatabase } = await import("../../server/storage/sqlite/restore.js");
      const { latestVersion } = await import("../../server/storage/sqlite/schema-versions.js");
      const r = await restoreDatabase({
        dataDir: await relayDataDir(o.dataDir),
        file,
        force: o.force === true,
      });
      const upgrade =
        r.schemaVersion < latestVersion()
          ? ` The relay migrates it to schema version ${latestVersion()} when it starts.`
          : "";
      output(
        o,
        r,
        `Restored ${file} as ${r.database}${r.replaced ? " (the database there before is gone)" : ""}: ${mebibytes(r.bytes)}, schema version ${r.schemaVersion}, integrity checked.${upgrade}\nStart the relay on it. Everything after the backup is missing: devices that saw later events report their caucus as broken (see README, Operating a relay).`,
      );
    });
}

/** --data-dir, else BACKCHANNEL_DATA_DIR, else the relay's default. */
async function relayDataDir(given: string | undefined): Promise<string> {
  const { defaultDataDir } = await import("../../server/start-server.js");
  return given ?? defaultDataDir;
}

/**
 * A relay on PostgreSQL (BACKCHANNEL_DATABASE_URL set) is backed up and restored with
 * PostgreSQL's own tools: say so, with the exact command (no password in it), and fail, since
 * nothing was backed up or restored.
 */
async function refuseForPostgres(o: GlobalOptions, what: "backup" | "restore", file: string): Promise<void> {
  const { databaseUrlFromEnv } = await import("../../server/main.js");
  const databaseUrl = databaseUrlFromEnv(process.env);
  if (databaseUrl === undefined) return;
  const { pgDumpCommand, pgRestoreCommand } = await import("../../server/storage/postgres-tools.js");
  const [tool, command, when] =
    what === "backup"
      ? ([
          "pg_dump",
          pgDumpCommand(databaseUrl, file),
          "it takes a consistent snapshot while the relays keep serving",
        ] as const)
      : (["pg_restore", pgRestoreCommand(databaseUrl, file), "stop every relay node first"] as const);
  outputFailure(
    o,
    { tool, command },
    `This relay stores in PostgreSQL (BACKCHANNEL_DATABASE_URL), so ${tool} does the ${what}; ${when}:\n\n  ${command}\n\nThe password is left out: ${tool} asks for it, or reads PGPASSWORD or ~/.pgpass.`,
    new CliError(`use_${tool}`, `the relay stores in PostgreSQL: run ${tool} (the command is above)`),
  );
}

/** A line on stderr about once a second while a backup runs: a small database prints none. */
function progressLines(now: () => number = Date.now) {
  let next = now() + 1_000;
  return ({ pagesCopied, totalPages }: { pagesCopied: number; totalPages: number }) => {
    if (now() < next || pagesCopied >= totalPages) return;
    next = now() + 1_000;
    process.stderr.write(
      `backup: ${Math.floor((100 * pagesCopied) / totalPages)}% (${pagesCopied} of ${totalPages} pages)\n`,
    );
  };
}

const mebibytes = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
