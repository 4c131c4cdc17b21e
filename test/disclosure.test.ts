/**
 * Invariants 3 and 4 through the sdk, against a real relay with three parties:
 *
 *  3. Disclosure is enforced: a mediator-only signal is never conveyed, a substance-only one never
 *     verbatim, an anonymous one never attributed; every conveyance leaves exactly one receipt in
 *     the source caucus holding the exact words the others got; a refused conveyance changes nothing.
 *  4. Non-binding by default: every view of a signal, conveyance or acknowledgement (CLI rendering,
 *     export) shows its stance in plain words, and an understanding exists only when every party
 *     endorsed the identical text.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { buildProgram } from "../src/cli/program.js";
import { renderTranscript } from "../src/cli/render.js";
import {
  BackchannelError,
  listEventsResponse,
  sha256HexOf,
  utf8,
  type EventBody,
} from "../src/protocol/index.js";
import { caucusUnderstanding, Party, type Device, type TranscriptEntry } from "../src/sdk/index.js";
import { FileStateStore, nodePlatform } from "../src/sdk/node.js";
import { coreOf, sendEvent } from "./helpers/internals.js";
import { admitAfterComparing, startNetwork, type TestNetwork } from "./helpers/network.js";

const NORTH = "Northland";
const SOUTH = "Southland";
const EAST = "Eastland";
const NONE =
  "no commitment · no coordination · no obligation · no guarantees · no timeline · no monitoring or enforcement";

let net: TestNetwork;
let north: Party;
let south: Party;
let east: Party;

beforeAll(async () => {
  net = await startNetwork({ parties: [NORTH, SOUTH, EAST] });
  north = net.handlers[NORTH]![0]!;
  south = net.handlers[SOUTH]![0]!;
  east = net.handlers[EAST]![0]!;
});
afterAll(async () => net?.close());

const caucusOf = (party: string) => net.caucus[party]!;
const bodies = (entries: readonly TranscriptEntry[]) => entries.map((e) => e.payload?.body);

/** Every caucus's chain head as the relay holds it (what "nothing changed" means on the server). */
async function heads(): Promise<Record<string, unknown>> {
  const token = await net.mediator.session.getToken();
  const out: Record<string, unknown> = {};
  for (const party of [NORTH, SOUTH, EAST]) {
    const res = await fetch(new URL(`/v1/caucuses/${caucusOf(party)}/events?after=1000000`, net.server.url), {
      headers: { authorization: `Bearer ${token}` },
    });
    out[party] = listEventsResponse.parse(await res.json()).head;
  }
  return out;
}

/** The call is refused with `code`, and nothing is sent anywhere, then or on the next sync. */
async function expectRefused(run: () => Promise<unknown>, code: string): Promise<void> {
  const before = await heads();
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a refusal with ${code}`).toBeInstanceOf(BackchannelError);
  expect(error).toMatchObject({ code });
  expect(await heads()).toEqual(before);
  // A receipt left owed by a half-done conveyance would be sent here.
  await net.mediator.sync();
  expect(await heads()).toEqual(before);
}

/** Entries a party's device gets from the next sync of its caucus. */
async function newEntries(p: Party): Promise<TranscriptEntry[]> {
  return (await p.sync()).get(p.caucusId) ?? [];
}

function receiptsFor(p: Party, sourceEventId: string) {
  return p
    .entries(p.caucusId)
    .flatMap((e) =>
      e.payload?.body.type === "receipt" && e.payload.body.sourceEventId === sourceEventId
        ? [e.payload.body]
        : [],
    );
}

/** Syncs everyone so each test starts from quiet caucuses. */
async function settle(): Promise<void> {
  await net.mediator.sync();
  for (const p of [north, south, east]) await p.sync();
}

describe("disclosure (invariant 3)", () => {
  test("a mediator-only signal can never be conveyed, in any mode, attribution or direction", async () => {
    const s = await north.send({ text: "for the mediator's ears only", disclosure: "mediator_only" });
    await settle();
    for (const mode of ["substance", "verbatim"] as const)
      for (const attribution of [undefined, "party", "anonymous"] as const)
        for (const to of mode === "substance" ? [undefined, [caucusOf(EAST)]] : [undefined])
          await expectRefused(
            () =>
              net.mediator.convey({
                from: caucusOf(NORTH),
                eventId: s.eventId,
                mode,
                text: mode === "substance" ? "a paraphrase" : undefined,
                attribution,
                to,
              }),
            "disclosure_mediator_only",
          );
    expect(receiptsFor(north, s.eventId)).toEqual([]);
    // The mediator sees it; nobody else ever does.
    expect(bodies(net.mediator.entries(caucusOf(NORTH)))).toContainEqual(
      expect.objectContaining({ text: "for the mediator's ears only" }),
    );
  });

  test("a substance-only signal is never conveyed verbatim; in substance, the others get only the paraphrase", async () => {
    const original = "we will not strike the northern depots this month";
    const paraphrase = "one side signals restraint in the near term";
    const s = await north.send({ text: original, disclosure: "substance" });
    await settle();
    await expectRefused(
      () => net.mediator.convey({ from: caucusOf(NORTH), eventId: s.eventId, mode: "verbatim" }),
      "disclosure_substance_only",
    );
    await expectRefused(
      () =>
        net.mediator.convey({ from: caucusOf(NORTH), eventId: s.eventId, mode: "verbatim", text: original }),
      "disclosure_substance_only",
    );
    // In substance, the mediator must use its own words.
    await expectRefused(
      () => net.mediator.convey({ from: caucusOf(NORTH), eventId: s.eventId, mode: "substance" }),
      "substance_text_required",
    );

    await net.mediator.convey({
      from: caucusOf(NORTH),
      eventId: s.eventId,
      mode: "substance",
      text: paraphrase,
    });
    for (const p of [south, east]) {
      const got = bodies(await newEntries(p));
      expect(got).toEqual([
        expect.objectContaining({
          type: "conveyance",
          mode: "substance",
          text: paraphrase,
          fromParty: NORTH,
        }),
      ]);
      expect(JSON.stringify(p.entries(p.caucusId))).not.toContain(original);
    }
  });

  test("an acknowledgement sent without options is, like a signal, substance only and named: never conveyed verbatim", async () => {
    const s = await north.send({ text: "we hold our positions", disclosure: "verbatim" });
    await settle();
    await net.mediator.convey({
      from: caucusOf(NORTH),
      eventId: s.eventId,
      mode: "verbatim",
      to: [caucusOf(SOUTH)],
    });
    const [conveyance] = (await newEntries(south)).filter((e) => e.payload?.body.type === "conveyance");
    const words = "received; we will answer through the mediator";
    const ack = await south.acknowledge(conveyance!.eventId, { text: words });
    expect(ack.payload?.body).toMatchObject({
      type: "acknowledgement",
      disclosure: "substance",
      attribution: "party",
    });
    await settle();
    await expectRefused(
      () => net.mediator.convey({ from: caucusOf(SOUTH), eventId: ack.eventId, mode: "verbatim" }),
      "disclosure_substance_only",
    );
    await net.mediator.convey({
      from: caucusOf(SOUTH),
      eventId: ack.eventId,
      mode: "substance",
      text: "the other side has received it",
      to: [caucusOf(NORTH)],
    });
    expect(bodies(await newEntries(north))).toEqual([
      expect.objectContaining({
        type: "conveyance",
        source: "acknowledgement",
        mode: "substance",
        text: "the other side has received it",
        fromParty: SOUTH,
      }),
    ]);
    expect(JSON.stringify(north.entries(north.caucusId))).not.toContain(words);
  });

  test("a verbatim signal goes out with its exact words, and a 'verbatim' conveyance with other words is refused", async () => {
    const original = "No new strikes from our side while talks continue.";
    const s = await north.send({ text: original, disclosure: "verbatim" });
    await settle();
    for (const altered of [
      "No new strikes from our side while talks continue",
      "No new strikes from our side while talks continue. ",
      "no new strikes from our side while talks continue.",
      "No new strikes from our side for now.",
    ])
      await expectRefused(
        () =>
          net.mediator.convey({ from: caucusOf(NORTH), eventId: s.eventId, mode: "verbatim", text: altered }),
        "verbatim_altered",
      );

    await net.mediator.convey({
      from: caucusOf(NORTH),
      eventId: s.eventId,
      mode: "verbatim",
      to: [caucusOf(SOUTH)],
    });
    await net.mediator.convey({
      from: caucusOf(NORTH),
      eventId: s.eventId,
      mode: "verbatim",
      to: [caucusOf(EAST)],
      text: original,
    });
    for (const p of [south, east])
      expect(bodies(await newEntries(p))).toEqual([
        expect.objectContaining({ type: "conveyance", mode: "verbatim", text: original }),
      ]);
  });

  test("an anonymous signal is conveyed without the party's name and cannot be forced to name it", async () => {
    const text = "someone here is ready to talk about the border crossings";
    const s = await north.send({ text, disclosure: "verbatim", attribution: "anonymous" });
    await settle();
    for (const mode of ["verbatim", "substance"] as const)
      await expectRefused(
        () =>
          net.mediator.convey({
            from: caucusOf(NORTH),
            eventId: s.eventId,
            mode,
            text: mode === "substance" ? "a side is ready to talk" : undefined,
            attribution: "party",
          }),
        "attribution_anonymous",
      );

    await net.mediator.convey({
      from: caucusOf(NORTH),
      eventId: s.eventId,
      mode: "verbatim",
      to: [caucusOf(SOUTH)],
    });
    const [conveyance] = await newEntries(south);
    expect(conveyance?.payload?.body).toMatchObject({ type: "conveyance", text });
    expect(conveyance?.payload?.body).not.toHaveProperty("fromParty");
    expect(JSON.stringify(conveyance)).not.toContain(NORTH);
    const shown = stripVTControlCharacters(
      renderTranscript([conveyance!], { selfDeviceId: south.deviceId, role: "party" }),
    );
    expect(shown).toContain("from a party");
    expect(shown).not.toContain(NORTH);

    await north.sync();
    expect(receiptsFor(north, s.eventId)).toEqual([
      expect.objectContaining({ attributedAs: "anonymous", toParties: [SOUTH] }),
    ]);
  });

  test("every conveyance leaves exactly one receipt in the source caucus, with the exact words and every recipient", async () => {
    const s = await north.send({ text: "we can pause the drills", disclosure: "verbatim" });
    await settle();
    const toOne = await net.mediator.convey({
      from: caucusOf(NORTH),
      eventId: s.eventId,
      mode: "substance",
      text: "drills may pause",
      to: [caucusOf(SOUTH)],
    });
    expect(await newEntries(east)).toEqual([]);
    const toBoth = await net.mediator.convey({ from: caucusOf(NORTH), eventId: s.eventId, mode: "verbatim" });
    expect(toBoth.conveyances).toHaveLength(2);

    const southGot = bodies(await newEntries(south));
    const eastGot = bodies(await newEntries(east));
    expect(southGot).toEqual([
      expect.objectContaining({ type: "conveyance", text: "drills may pause" }),
      expect.objectContaining({ type: "conveyance", text: "we can pause the drills" }),
    ]);
    expect(eastGot).toEqual([
      expect.objectContaining({ type: "conveyance", text: "we can pause the drills" }),
    ]);

    await north.sync();
    const receipts = receiptsFor(north, s.eventId);
    expect(receipts).toEqual([
      {
        type: "receipt",
        sourceEventId: s.eventId,
        mode: "substance",
        text: "drills may pause",
        attributedAs: "party",
        toParties: [SOUTH],
      },
      {
        type: "receipt",
        sourceEventId: s.eventId,
        mode: "verbatim",
        text: "we can pause the drills",
        attributedAs: "party",
        toParties: [SOUTH, EAST],
      },
    ]);
    expect([toOne.receipt, toBoth.receipt].map((r) => r!.payload?.body)).toEqual(receipts);

    // An acknowledgement conveyed back leaves its receipt in the acknowledging party's caucus.
    const conveyanceInSouth = south
      .entries(south.caucusId)
      .filter((e) => e.payload?.body.type === "conveyance")
      .at(-1)!;
    const ack = await south.acknowledge(conveyanceInSouth.eventId, {
      text: "received; no commitment",
      disclosure: "verbatim",
    });
    await net.mediator.convey({
      from: caucusOf(SOUTH),
      eventId: ack.eventId,
      mode: "verbatim",
      to: [caucusOf(NORTH)],
    });
    expect(bodies(await newEntries(north))).toEqual([
      expect.objectContaining({
        type: "conveyance",
        source: "acknowledgement",
        text: "received; no commitment",
        fromParty: SOUTH,
      }),
    ]);
    await south.sync();
    expect(receiptsFor(south, ack.eventId)).toEqual([
      expect.objectContaining({ text: "received; no commitment", toParties: [NORTH], mode: "verbatim" }),
    ]);
  });

  test("an expired signal can no longer be conveyed; an unexpired one carries its expiry", async () => {
    const expired = await north.send({
      text: "this offer lapsed",
      disclosure: "verbatim",
      expiresAt: new Date(Date.now() - 60_000).toISOString(),
    });
    await settle();
    await expectRefused(
      () => net.mediator.convey({ from: caucusOf(NORTH), eventId: expired.eventId, mode: "verbatim" }),
      "signal_expired",
    );

    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const live = await north.send({
      text: "this offer stands for an hour",
      disclosure: "verbatim",
      expiresAt,
    });
    await net.mediator.convey({
      from: caucusOf(NORTH),
      eventId: live.eventId,
      mode: "verbatim",
      to: [caucusOf(EAST)],
    });
    expect(bodies(await newEntries(east))).toEqual([
      expect.objectContaining({ type: "conveyance", expiresAt }),
    ]);
  });

  test("only a party's signal or acknowledgement is conveyable, and only into the channel's other caucuses", async () => {
    const note = await net.mediator.note(caucusOf(NORTH), "the mediator's own note");
    const s = await north.send({ text: "conveyable", disclosure: "verbatim" });
    const { receipt } = await net.mediator.convey({
      from: caucusOf(NORTH),
      eventId: s.eventId,
      mode: "verbatim",
    });
    await settle();
    for (const eventId of [note.eventId, receipt!.eventId, "0190a5f0-0000-7000-8000-000000000000"])
      await expectRefused(
        () => net.mediator.convey({ from: caucusOf(NORTH), eventId, mode: "verbatim" }),
        "source_invalid",
      );
    for (const to of [
      [caucusOf(NORTH)],
      [caucusOf(SOUTH), caucusOf(NORTH)],
      ["00000000-0000-4000-8000-000000000000"],
      [],
    ])
      await expectRefused(
        () => net.mediator.convey({ from: caucusOf(NORTH), eventId: s.eventId, mode: "verbatim", to }),
        "target_invalid",
      );
  });
});

describe("stance (invariant 4): every view shows it", () => {
  const render = (d: Device, e: TranscriptEntry, partyName?: string) =>
    stripVTControlCharacters(
      renderTranscript([e], { selfDeviceId: d.deviceId, role: d.role, ...(partyName ? { partyName } : {}) }),
    );

  test("the CLI rendering of each signal, conveyance and acknowledgement states its stance in plain words", async () => {
    const s = await north.send({
      text: "we could consider a corridor",
      disclosure: "verbatim",
      stance: { timeline: "within 48 hours" },
    });
    const plain = await north.send({ text: "no escalation planned", disclosure: "verbatim" });
    await settle();
    await net.mediator.convey({
      from: caucusOf(NORTH),
      eventId: s.eventId,
      mode: "verbatim",
      to: [caucusOf(SOUTH)],
    });
    await net.mediator.convey({
      from: caucusOf(NORTH),
      eventId: plain.eventId,
      mode: "verbatim",
      to: [caucusOf(SOUTH)],
    });
    const [c1, c2] = (await newEntries(south)).filter((e) => e.payload?.body.type === "conveyance");
    const a1 = await south.acknowledge(c1!.eventId, { text: "noted" });
    const a2 = await south.acknowledge(c2!.eventId, {
      stance: { coordination: "through the mediator only" },
    });
    await net.mediator.sync();

    const withTerm =
      "no commitment · no coordination · no obligation · no guarantees · timeline: within 48 hours · no monitoring or enforcement";
    const cases: [string, string, string][] = [
      ["signal, its sender's view", render(north, s), withTerm],
      [
        "signal, the mediator's view",
        render(
          net.mediator,
          net.mediator.entries(caucusOf(NORTH)).find((e) => e.eventId === s.eventId)!,
          NORTH,
        ),
        withTerm,
      ],
      ["plain signal", render(north, plain), NONE],
      ["conveyance, the recipient's view", render(south, c1!), withTerm],
      ["plain conveyance", render(south, c2!), NONE],
      ["acknowledgement, its sender's view", render(south, a1), NONE],
      [
        "acknowledgement, the mediator's view",
        render(
          net.mediator,
          net.mediator.entries(caucusOf(SOUTH)).find((e) => e.eventId === a2.eventId)!,
          SOUTH,
        ),
        "no commitment · coordination: through the mediator only · no obligation",
      ],
    ];
    for (const [what, shown, words] of cases) {
      expect(shown, what).toContain(`stance: ${words}`);
    }

    // And across whole transcripts: one stance line per signal, conveyance and acknowledgement.
    for (const [d, caucusId] of [
      [north, north.caucusId],
      [south, south.caucusId],
      [net.mediator, caucusOf(NORTH)],
      [net.mediator, caucusOf(SOUTH)],
    ] as const) {
      const entries = d.entries(caucusId);
      const stanced = entries.filter((e) =>
        ["signal", "conveyance", "acknowledgement"].includes(e.payload?.body.type ?? ""),
      );
      const shown = stripVTControlCharacters(
        renderTranscript(entries, { selfDeviceId: d.deviceId, role: d.role }),
      );
      expect(stanced.length).toBeGreaterThan(0);
      expect(shown.split("\n").filter((l) => l.trim().startsWith("stance: "))).toHaveLength(stanced.length);
    }
  });

  test("`backchannel export` gives every signal, conveyance and acknowledgement a stanceText", async () => {
    const home = mkdtempSync(join(tmpdir(), "backchannel-export-"));
    try {
      const passphraseFile = join(home, "passphrase");
      writeFileSync(passphraseFile, "correct horse battery staple\n", { mode: 0o600 });
      const { code } = await net.mediator.invite(caucusOf(SOUTH));
      const store = new FileStateStore(join(home, "device.json"), "correct horse battery staple");
      const handler = await Party.join({ inviteCode: code, store, platform: nodePlatform });
      await admitAfterComparing(net.mediator, handler);
      expect(await handler.waitUntilJoined(10_000)).toBe(true);

      const s = await north.send({
        text: "a window for talks",
        disclosure: "verbatim",
        stance: { guarantees: "none offered yet, but possible" },
      });
      await net.mediator.convey({
        from: caucusOf(NORTH),
        eventId: s.eventId,
        mode: "verbatim",
        to: [caucusOf(SOUTH)],
      });
      const [conveyance] = (await newEntries(handler)).filter((e) => e.payload?.body.type === "conveyance");
      await handler.acknowledge(conveyance!.eventId, { text: "received" });
      await handler.send({ text: "a question back", signalKind: "question", disclosure: "substance" });

      // The CLI's own export command, run in-process against this device's keystore.
      const out = join(home, "export.json");
      const program = await buildProgram();
      const quiet = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
      try {
        await program.parseAsync(
          ["--home", home, "--passphrase-file", passphraseFile, "--json", "export", "--out", out],
          { from: "user" },
        );
      } finally {
        quiet.mockRestore();
      }
      const doc = JSON.parse(readFileSync(out, "utf8")) as {
        caucuses: { events: (TranscriptEntry & { stanceText?: string })[] }[];
      };
      const events = doc.caucuses.flatMap((c) => c.events);
      const stanced = events.filter((e) =>
        ["signal", "conveyance", "acknowledgement"].includes(e.payload?.body.type ?? ""),
      );
      expect(stanced.map((e) => e.payload?.body.type).sort()).toEqual([
        "acknowledgement",
        "conveyance",
        "signal",
      ]);
      for (const e of stanced) {
        expect(e.stanceText, e.payload?.body.type).toMatch(/^(no commitment|commitment: )/);
      }
      expect(stanced.find((e) => e.payload?.body.type === "conveyance")?.stanceText).toBe(
        "no commitment · no coordination · no obligation · guarantees: none offered yet, but possible · no timeline · no monitoring or enforcement",
      );
      expect(stanced.find((e) => e.payload?.body.type === "signal")?.stanceText).toBe(NONE);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

/** A party device sending an endorsement body of its own making (what a modified client could do). */
async function sendRawEndorsement(
  p: Party,
  body: Extract<EventBody, { type: "endorsement" }>,
): Promise<void> {
  await sendEvent(coreOf(p), p.caucusId, body);
}

describe("understandings (invariant 4): only when every party endorsed the identical text", () => {
  const status = async (understandingId: string) => {
    await net.mediator.sync();
    return net.mediator
      .understandings(net.channel.channelId)
      .find((u) => u.understandingId === understandingId);
  };

  test("parallel notifications, however alike, make no understanding", async () => {
    const text = "no new strikes";
    const signals = [];
    for (const p of [north, south, east])
      signals.push({ p, s: await p.send({ text, disclosure: "verbatim" }) });
    for (const { p, s } of signals)
      await net.mediator.convey({ from: p.caucusId, eventId: s.eventId, mode: "verbatim" });
    await settle();
    const all = net.mediator.understandings(net.channel.channelId);
    expect(all.filter((u) => u.text === text)).toEqual([]);
    expect(all.filter((u) => u.reached).map((u) => u.text)).not.toContain(text);
  });

  test("endorsed by one party: not reached; by every party: reached", async () => {
    const text = "Each side refrains from new strikes for 30 days.";
    const id = await net.mediator.proposeUnderstanding(net.channel.channelId, text);
    await north.endorse(id);
    expect(await status(id)).toEqual({
      understandingId: id,
      text,
      endorsedBy: [NORTH],
      pending: [SOUTH, EAST],
      reached: false,
    });
    await south.endorse(id);
    expect(await status(id)).toMatchObject({ endorsedBy: [NORTH, SOUTH], pending: [EAST], reached: false });
    await east.endorse(id);
    expect(await status(id)).toEqual({
      understandingId: id,
      text,
      endorsedBy: [NORTH, SOUTH, EAST],
      pending: [],
      reached: true,
    });
  });

  test("an endorsement of different words does not count, even under the right understanding id", async () => {
    const text = "Both sides keep this channel open.";
    const id = await net.mediator.proposeUnderstanding(net.channel.channelId, text);
    await north.endorse(id);
    await south.sync();
    await east.sync();
    const other = "Both sides keep this channel open for now.";
    // Other words, hashed honestly.
    await sendRawEndorsement(south, {
      type: "endorsement",
      understandingId: id,
      text: other,
      textSha256: sha256HexOf(utf8(other)),
    });
    // The right words under another text's hash.
    await sendRawEndorsement(east, {
      type: "endorsement",
      understandingId: id,
      text,
      textSha256: sha256HexOf(utf8(other)),
    });
    // Other words under the right hash.
    await sendRawEndorsement(east, {
      type: "endorsement",
      understandingId: id,
      text: other,
      textSha256: sha256HexOf(utf8(text)),
    });
    expect(await status(id)).toMatchObject({ endorsedBy: [NORTH], pending: [SOUTH, EAST], reached: false });

    // Control: the same path with the identical text does count.
    await sendRawEndorsement(south, {
      type: "endorsement",
      understandingId: id,
      text,
      textSha256: sha256HexOf(utf8(text)),
    });
    expect(await status(id)).toMatchObject({ endorsedBy: [NORTH, SOUTH], reached: false });
  });

  test("two different proposals, each endorsed by some of the parties, are neither of them reached", async () => {
    const first = await net.mediator.proposeUnderstanding(
      net.channel.channelId,
      "A humanitarian corridor opens on Monday.",
    );
    const second = await net.mediator.proposeUnderstanding(
      net.channel.channelId,
      "A humanitarian corridor opens on Tuesday.",
    );
    await north.endorse(first);
    await south.endorse(first);
    await east.endorse(second);
    expect(await status(first)).toMatchObject({
      endorsedBy: [NORTH, SOUTH],
      pending: [EAST],
      reached: false,
    });
    expect(await status(second)).toMatchObject({
      endorsedBy: [EAST],
      pending: [NORTH, SOUTH],
      reached: false,
    });
  });

  test("once reached, each party hears it from the mediator: the exact words, no one's handler", async () => {
    const text = "Both sides exchange lists of detainees by Friday.";
    const id = await net.mediator.proposeUnderstanding(net.channel.channelId, text);
    await north.endorse(id);
    await south.endorse(id);
    await net.mediator.sync();
    for (const p of [north, south, east]) {
      await p.sync();
      expect(caucusUnderstanding(p.entries(p.caucusId), id)?.reached).toBe(false);
    }
    await east.endorse(id);
    await net.mediator.sync(); // sees every endorsement, and tells each caucus
    const devices = Object.values(net.handlers).flatMap((hs) => hs.map((h) => h.deviceId));
    for (const p of [north, south, east]) {
      await p.sync();
      expect(caucusUnderstanding(p.entries(p.caucusId), id)).toEqual({
        understandingId: id,
        text,
        endorsed: true,
        reached: true,
      });
      const news = p
        .entries(p.caucusId)
        .filter(
          (e) => e.payload?.body.type === "understanding_reached" && e.payload.body.understandingId === id,
        );
      expect(news).toHaveLength(1);
      expect(news[0]!.senderRole).toBe("mediator");
      // It names no device, no handler, no other caucus.
      const said = JSON.stringify(news[0]!.payload!.body);
      for (const d of devices) expect(said).not.toContain(d);
      for (const party of [NORTH, SOUTH, EAST]) expect(said).not.toContain(caucusOf(party));
    }
    // Told once: another sync says nothing more.
    await net.mediator.sync();
    await north.sync();
    expect(
      north
        .entries(north.caucusId)
        .filter(
          (e) => e.payload?.body.type === "understanding_reached" && e.payload.body.understandingId === id,
        ),
    ).toHaveLength(1);
  });

  test("a party believes 'reached' only for the words it endorsed, said after it endorsed them", async () => {
    /** A mediator device saying "reached" for `text` under `id`, whatever the endorsements. */
    const sayReached = async (id: string, text: string) => {
      await sendEvent(coreOf(net.mediator), caucusOf(NORTH), {
        type: "understanding_reached",
        understandingId: id,
        text,
        textSha256: sha256HexOf(utf8(text)),
      });
      await north.sync();
    };
    const reachedAtNorth = (id: string) => caucusUnderstanding(north.entries(north.caucusId), id)?.reached;
    const text = "The ports reopen on the first.";
    const id = await net.mediator.proposeUnderstanding(net.channel.channelId, text);
    await north.sync();
    // Said before North endorsed: the mediator cannot have known it, so it is not believed, then or after.
    await sayReached(id, text);
    expect(reachedAtNorth(id)).toBe(false);
    await north.endorse(id);
    expect(reachedAtNorth(id)).toBe(false);
    // Said after, for other words than North endorsed: not believed either.
    const other = "The ports reopen on the second.";
    await sayReached(id, other);
    expect(reachedAtNorth(id)).toBe(false);
    // Control: the same words, after North's endorsement, are believed.
    await sayReached(id, text);
    expect(reachedAtNorth(id)).toBe(true);
  });
});
