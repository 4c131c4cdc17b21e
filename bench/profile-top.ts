import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/**
 * Summarises V8 CPU profiles (`node --cpu-prof --cpu-prof-dir=DIR …`): the functions with the most
 * self time, across every profile in DIR, as a Markdown table (for bench/README.md) or, with
 * --json, as JSON. Usage: tsx bench/profile-top.ts DIR [N] [--json]
 *
 * Where DIR holds a `rounds.json` (the nodes bench writes one beside its nodes' profiles), only
 * the samples taken inside its timed windows count, and each function's self time is also given
 * per event of those windows: the processes' start-up, the setup and the warm-up are left out.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

const args = process.argv.slice(2);
const json = args.includes("--json");
const [dir, nArg] = args.filter((a) => a !== "--json");
if (!dir) {
  process.stderr.write("usage: tsx bench/profile-top.ts DIR [N] [--json]\n");
  process.exit(2);
}
const n = Number(nArg ?? 15);
const files = statSync(dir).isDirectory()
  ? readdirSync(dir)
      .filter((f) => f.endsWith(".cpuprofile"))
      .map((f) => join(dir, f))
  : [dir];

/** Timed windows, on the monotonic clock V8's profiles use (µs), and the events sent inside them. */
interface Rounds {
  windowsUs: [number, number][];
  events: number;
}
const roundsFile = statSync(dir).isDirectory() ? join(dir, "rounds.json") : undefined;
const rounds =
  roundsFile && existsSync(roundsFile) ? (JSON.parse(readFileSync(roundsFile, "utf8")) as Rounds) : undefined;
const counted = (t: number) => !rounds || rounds.windowsUs.some(([from, to]) => t >= from && t < to);

const selfUs = new Map<string, number>();
let totalUs = 0;
for (const file of files) {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((node) => [node.id, node]));
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let t = p.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    const node = byId.get(samples[i]!);
    if (!node || !counted(t)) continue;
    const dt = Math.max(0, deltas[i + 1] ?? deltas[i] ?? 0);
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${shorten(url)}:${lineNumber + 1}` : "";
    const key = `${functionName || "(anonymous)"}\t${where}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    totalUs += dt;
  }
}

function shorten(url: string): string {
  const path = url.replace(/^file:\/\//, "");
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) return path.slice(nm + "node_modules/".length);
  return relative(process.cwd(), path);
}

const rows = [...selfUs.entries()]
  .filter(([k]) => !k.startsWith("(idle)") && !k.startsWith("(program)"))
  .sort((a, b) => b[1] - a[1])
  .slice(0, n)
  .map(([k, us]) => {
    const [fn, where] = k.split("\t");
    return {
      fn: fn!,
      where: where!,
      ms: Math.round(us / 100) / 10,
      pct: Math.round((us / totalUs) * 1000) / 10,
      ...(rounds ? { usPerEvent: Math.round((us / rounds.events) * 10) / 10 } : {}),
    };
  });
const idle = (selfUs.get("(idle)\t") ?? 0) / totalUs;
if (json)
  process.stdout.write(
    `${JSON.stringify({ totalMs: totalUs / 1000, idle, ...(rounds ? { events: rounds.events } : {}), rows }, null, 2)}\n`,
  );
else if (rounds) {
  const busyUs = totalUs * (1 - idle);
  process.stdout.write(
    `${rounds.windowsUs.length} timed rounds, ${rounds.events} events: ${Math.round(totalUs / 1000)} ms sampled, ` +
      `${Math.round(idle * 100)}% idle, ${Math.round(busyUs / rounds.events)} µs busy per event\n\n`,
  );
  process.stdout.write("| self ms | % | µs/event | function | where |\n| ---: | ---: | ---: | --- | --- |\n");
  for (const r of rows)
    process.stdout.write(`| ${r.ms} | ${r.pct} | ${r.usPerEvent} | \`${r.fn}\` | ${r.where} |\n`);
} else {
  process.stdout.write(`total ${Math.round(totalUs / 1000)} ms sampled, ${Math.round(idle * 100)}% idle\n\n`);
  process.stdout.write("| self ms | % | function | where |\n| ---: | ---: | --- | --- |\n");
  for (const r of rows) process.stdout.write(`| ${r.ms} | ${r.pct} | \`${r.fn}\` | ${r.where} |\n`);
}
