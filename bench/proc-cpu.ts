import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

/**
 * CPU time of other processes, as Linux counts it in /proc/<pid>/stat, for processes the bench
 * did not fork with IPC (PostgreSQL's postmaster and backends, nats-server, relay nodes).
 *
 * A tree's CPU is the sum, over its processes alive at the moment, of utime + stime (their own)
 * + cutime + cstime (that of the children they reaped). A child that exits between two readings
 * leaves its whole CPU in its parent's cutime/cstime when reaped, so the difference of two
 * readings is what the tree spent in between, including the backends and autovacuum workers
 * that came and went (as long as the root itself lived throughout).
 */
const ticksPerSec = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

interface ProcStat {
  ppid: number;
  /** utime + stime + cutime + cstime, ms. */
  cpuMs: number;
}

/** Every process's parent and CPU, read now. Processes that vanish while being read are left out. */
export function readProcs(): Map<number, ProcStat> {
  const procs = new Map<number, ProcStat>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // gone since the listing
    }
    // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): ppid is field 4, utime…cstime are fields 14–17.
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    procs.set(Number(name), { ppid: Number(fields[1]), cpuMs: (ticks / ticksPerSec) * 1000 });
  }
  return procs;
}

/** CPU ms of `root` and every descendant alive in `procs` (reaped ones are in their parents'). */
export function treeCpuMs(procs: ReadonlyMap<number, ProcStat>, root: number): number {
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(pid);
    else children.set(p.ppid, [pid]);
  }
  let total = 0;
  const stack = procs.has(root) ? [root] : [];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += procs.get(pid)!.cpuMs;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}
