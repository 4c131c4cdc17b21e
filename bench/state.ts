import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { FileStateStore } from "../src/sdk/node.js";
import { nowMs, percentile, round } from "./stats.js";

/**
 * Device-state saves on the file keystore (issue 8: saving costs what changed, not what the
 * device holds). A FileStateStore holding a device part, one caucus record (with a few KiB of MLS
 * group state) and N transcript entries takes `saves` saves of what a send saves: the caucus
 * record, changed, and one new entry. Measured at 100 and at 10,000 entries, in the same run; the
 * ratios should be about 1. The keystore is the production one (scrypt at its default cost, an
 * fsync per save), in a temporary directory.
 */
export interface StateSaves {
  entries: number;
  /** The keystore file once filled, before the timed saves. */
  fileBytes: number;
  p50Ms: number;
  p99Ms: number;
  /** Bytes this process wrote per save (Linux /proc/self/io), rewrites of the log included. */
  bytesWrittenPerSave: number | undefined;
}

export interface StateSavesResult {
  saves: number;
  small: StateSaves;
  large: StateSaves;
  /** large ÷ small: about 1 when a save costs what changed. */
  ratio: { p50: number; bytesWritten: number | undefined };
}

const GROUP_BYTES = 4096;
const WARMUP = 10;

export async function measureStateSaves(
  opts: { saves?: number; progress?: (line: string) => void } = {},
): Promise<StateSavesResult> {
  const saves = opts.saves ?? 200;
  const progress = opts.progress ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), "bc-bench-state-"));
  try {
    const stores = [await filled(dir, 100, progress), await filled(dir, 10_000, progress)] as const;
    for (const s of stores) for (let i = 0; i < WARMUP; i++) await s.save();
    // Interleaved, so that both see the same disk: its fsync latency, shared with whatever else
    // runs on the machine, varies more than anything measured here.
    for (let i = 0; i < saves; i++)
      for (const s of i % 2 ? [...stores].reverse() : stores) await s.timedSave();
    const [small, large] = stores.map((s) => s.result(saves));
    return {
      saves,
      small: small!,
      large: large!,
      ratio: {
        p50: round(large!.p50Ms / small!.p50Ms),
        bytesWritten:
          large!.bytesWrittenPerSave !== undefined && small!.bytesWrittenPerSave
            ? round(large!.bytesWrittenPerSave / small!.bytesWrittenPerSave)
            : undefined,
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A keystore holding `entries` transcript entries, and what a send saves into it. */
async function filled(dir: string, entries: number, progress: (line: string) => void) {
  const path = join(dir, `device-${entries}.json`);
  const store = new FileStateStore(path, "a bench passphrase, not a secret");
  const initial = new Map<string, unknown>([
    ["device", { v: 1, deviceId: "bench", caucuses: {} }],
    ["caucus/c1", caucusRecord(0)],
  ]);
  for (let n = 0; n < entries; n++) initial.set(`entry/c1/${n}`, entry(n));
  await store.update(initial); // creates the keystore (one scrypt)
  const fileBytes = (await stat(path)).size;
  progress(`state: ${entries} entries in ${fileBytes} bytes`);
  let n = entries;
  const save = () => {
    const next = n++;
    return store.update(
      new Map<string, unknown>([
        ["caucus/c1", caucusRecord(next + 1)],
        [`entry/c1/${next}`, entry(next)],
      ]),
    );
  };
  const latencies: number[] = [];
  let written = 0;
  let known = true;
  return {
    save,
    async timedSave() {
      const before = bytesWritten();
      const start = nowMs();
      await save();
      latencies.push(nowMs() - start);
      const after = bytesWritten();
      if (before === undefined || after === undefined) known = false;
      else written += after - before;
    },
    result(saves: number): StateSaves {
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        entries,
        fileBytes,
        p50Ms: round(percentile(sorted, 50)),
        p99Ms: round(percentile(sorted, 99)),
        bytesWrittenPerSave: known ? Math.round(written / saves) : undefined,
      };
    },
  };
}

/** A caucus record's part as the sdk stores it: its MLS group state changes with every send. */
function caucusRecord(n: number) {
  return {
    caucusId: "c1",
    group: randomBytes(GROUP_BYTES).toString("base64url"),
    anchor: { seq: 1, hash: "00".repeat(32) },
    head: { seq: n + 1, hash: randomBytes(32).toString("hex") },
    entries: [],
    outbox: {},
    removed: false,
  };
}

/** A transcript entry about the size of a signal's. */
function entry(n: number) {
  return {
    seq: n + 1,
    eventId: `ev-${n}`,
    hash: randomBytes(32).toString("hex"),
    senderDeviceId: "dev-a",
    senderRole: "party",
    kind: "application",
    epoch: 1,
    payload: { kind: "signal", text: `signal number ${n}: `.padEnd(200, "x") },
  };
}

/** Bytes this process has written so far (Linux), or undefined where the kernel does not say. */
function bytesWritten(): number | undefined {
  if (!existsSync("/proc/self/io")) return undefined;
  const match = /^wchar: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"));
  return match ? Number(match[1]) : undefined;
}

// `npx tsx bench/state.ts` runs it alone and prints its JSON.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await measureStateSaves({ progress: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
