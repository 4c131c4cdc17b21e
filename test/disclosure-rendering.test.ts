/**
 * One disclosure policy, two renderings: the CLI's transcript and the console's event card must
 * judge every receipt the same way (invariant 3). A receipt that goes beyond what the sender
 * allowed — which only a hostile or broken mediator device could post — is shown as a breach by
 * both; one within what was allowed is shown as normal by both.
 */
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, test } from "vitest";
import { renderTranscript } from "../src/cli/render.js";
import {
  noStance,
  type Attribution,
  type ConveyanceMode,
  type Disclosure,
  type EventBody,
} from "../src/protocol/index.js";
import {
  allowedModes,
  checkConveyance,
  entryViews,
  receiptVerdict,
  type ConveyableBody,
  type TranscriptEntry,
} from "../src/sdk/index.js";
import { EventCard } from "../src/web/ui/event-card.js";

const caucusId = "0190f000-0000-7000-8000-00000000c0c0";
const partyDevice = "0190f000-0000-7000-8000-0000000000a1";
const mediatorDevice = "0190f000-0000-7000-8000-0000000000b1";
const hash = (n: number) => n.toString(16).padStart(64, "0");
const id = (n: number) => `0190f000-0000-7000-8000-${n.toString(16).padStart(12, "0")}`;

function entry(seq: number, role: "party" | "mediator", body: EventBody): TranscriptEntry {
  return {
    seq,
    eventId: id(seq),
    hash: hash(seq),
    senderDeviceId: role === "party" ? partyDevice : mediatorDevice,
    senderRole: role,
    kind: "application",
    epoch: 1,
    payload: {
      v: 1,
      eventId: id(seq),
      caucusId,
      sentAt: new Date(0).toISOString(),
      seen: { seq: seq - 1, hash: hash(seq - 1) },
      body,
    },
  };
}

function signal(disclosure: Disclosure, attribution: Attribution): ConveyableBody {
  return {
    type: "signal",
    signalKind: "reply",
    text: "We are not interested in escalating at this stage.",
    stance: noStance,
    disclosure,
    attribution,
  };
}

function transcript(source: ConveyableBody, mode: ConveyanceMode, attributedAs: Attribution) {
  return [
    entry(1, "party", source),
    entry(2, "mediator", {
      type: "receipt",
      sourceEventId: id(1),
      mode,
      text: "Party A does not seek escalation.",
      attributedAs,
      toParties: ["B"],
    }),
  ];
}

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

function renderings(entries: TranscriptEntry[], viewer: "mediator" | "party") {
  const cli = plain(
    renderTranscript(entries, { selfDeviceId: "someone-else", role: viewer, partyName: "A" }),
  );
  const [view] = entryViews(entries);
  const html = renderToStaticMarkup(
    createElement(EventCard, {
      view: view!,
      ctx: {
        selfDeviceId: "someone-else",
        viewer,
        partyName: "A",
        seqOf: (e: string) => entries.find((x) => x.eventId === e)?.seq,
      },
    }),
  );
  return { cli, html };
}

const cases: {
  name: string;
  disclosure: Disclosure;
  attribution: Attribution;
  mode: ConveyanceMode;
  as: Attribution;
  within: boolean;
}[] = [
  {
    name: "verbatim allowed, conveyed verbatim",
    disclosure: "verbatim",
    attribution: "party",
    mode: "verbatim",
    as: "party",
    within: true,
  },
  {
    name: "verbatim allowed, conveyed in substance",
    disclosure: "verbatim",
    attribution: "party",
    mode: "substance",
    as: "party",
    within: true,
  },
  {
    name: "substance only, conveyed in substance",
    disclosure: "substance",
    attribution: "party",
    mode: "substance",
    as: "anonymous",
    within: true,
  },
  {
    name: "substance only, conveyed verbatim",
    disclosure: "substance",
    attribution: "party",
    mode: "verbatim",
    as: "party",
    within: false,
  },
  {
    name: "mediator only, conveyed at all",
    disclosure: "mediator_only",
    attribution: "party",
    mode: "substance",
    as: "party",
    within: false,
  },
  {
    name: "anonymous, conveyed naming the party",
    disclosure: "verbatim",
    attribution: "anonymous",
    mode: "verbatim",
    as: "party",
    within: false,
  },
  {
    name: "anonymous, conveyed as a party",
    disclosure: "verbatim",
    attribution: "anonymous",
    mode: "substance",
    as: "anonymous",
    within: true,
  },
];

describe("receipts are judged by one policy in the CLI and the console", () => {
  for (const c of cases)
    for (const viewer of ["party", "mediator"] as const)
      test(`${c.name} (${viewer})`, () => {
        const source = signal(c.disclosure, c.attribution);
        const entries = transcript(source, c.mode, c.as);
        const verdict = receiptVerdict(
          source,
          entries[1]!.payload!.body as Extract<EventBody, { type: "receipt" }>,
        );
        expect(verdict.within).toBe(c.within);
        // The sdk itself would have refused to make exactly the receipts judged as breaches.
        const refused = (() => {
          try {
            checkConveyance(source, c.mode, c.as);
            return false;
          } catch {
            return true;
          }
        })();
        expect(refused).toBe(!c.within);
        const { cli, html } = renderings(entries, viewer);
        const whose = viewer === "party" ? "what you allowed" : "what the sender allowed";
        expect(cli.toLowerCase().includes(`beyond ${whose}`)).toBe(!c.within);
        expect(html.includes(`Beyond ${whose}`)).toBe(!c.within);
        expect(html.includes('class="problem"')).toBe(!c.within);
        // Both say where it went and how, in the same words.
        const how = `Conveyed to B ${c.mode === "verbatim" ? "verbatim" : "in substance"}`;
        expect(cli).toContain(how);
        expect(html).toContain(how);
      });

  test("a signal without receipts says the same thing in both", () => {
    for (const disclosure of ["verbatim", "substance", "mediator_only"] as const) {
      const entries = [entry(1, "party", signal(disclosure, "party"))];
      const { cli, html } = renderings(entries, "mediator");
      const words = disclosure === "mediator_only" ? "Mediator only: not conveyable." : "Not conveyed yet.";
      expect(cli).toContain(words);
      expect(html).toContain(words);
    }
  });

  test("the modes offered are exactly those the sender allowed", () => {
    expect(allowedModes("verbatim")).toEqual(["verbatim", "substance"]);
    expect(allowedModes("substance")).toEqual(["substance"]);
    expect(allowedModes("mediator_only")).toEqual([]);
  });
});
