import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, test } from "vitest";

/**
 * docs/design.md is the newcomer's map, so it must stay true of the code: every invariant that a
 * comment, help text or test cites by number ("invariant 3", "Invariants 3 and 4") is a numbered
 * invariant of the document; every word of its vocabulary table is a word the code uses; and
 * nothing cites the DESIGN.md that the project does not have.
 */
const root = resolve(import.meta.dirname, "..");
const designPath = "docs/design.md";
const design = readFileSync(join(root, designPath), "utf8");
const self = relative(root, import.meta.filename);

/** The text under `## title`, up to the next `## ` heading. */
function section(markdown: string, title: string): string {
  const start = markdown.search(new RegExp(`^## ${title}\\s*$`, "m"));
  if (start < 0) return "";
  const rest = markdown.slice(start).split("\n").slice(1).join("\n");
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Invariant numbers as the document numbers them: `### 3. Disclosure is enforced`. */
function documentedInvariants(markdown: string): number[] {
  return [...section(markdown, "Invariants").matchAll(/^### (\d+)\. \S/gm)].map((m) => Number(m[1]));
}

/** Every invariant number a text cites: "invariant 6", "Invariants 3 and 4", "invariants 1–5". */
function citedInvariants(text: string): { n: number; index: number }[] {
  const out: { n: number; index: number }[] = [];
  for (const m of text.matchAll(/\binvariants?\s+(\d+(?:\s*(?:,|and|or|&|[-–—])\s*\d+)*)/gi)) {
    for (const part of m[1]!.matchAll(/(\d+)\s*[-–—]\s*(\d+)|(\d+)/g)) {
      const [from, to] = part[3] ? [Number(part[3]), Number(part[3])] : [Number(part[1]), Number(part[2])];
      for (let n = from; n <= to; n++) out.push({ n, index: m.index });
    }
  }
  return out;
}

/** The first column of the vocabulary table, without its header and separator rows. */
function vocabulary(markdown: string): string[] {
  return section(markdown, "Vocabulary")
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .slice(2)
    .map((line) => line.split("|")[1]!.replace(/[`*]/g, "").trim())
    .filter(Boolean);
}

/** A term is used if its words appear in order, joined by nothing, space, `_` or `-` (channel_info). */
function usedIn(corpus: string, term: string): boolean {
  const words = term.toLowerCase().split(/\s+/);
  const pattern = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[\\s_-]*");
  return new RegExp(pattern, "i").test(corpus);
}

function filesUnder(dir: string, exts: RegExp): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (path !== "test/data") out.push(...filesUnder(path, exts));
    } else if (exts.test(entry.name) && path !== self) out.push(path);
  }
  return out;
}

const textFiles = /\.(ts|tsx|js|md|html)$/;
/** Where the project cites its design: code, tests, benchmarks, lint rules, README. */
const citingFiles = [
  ...filesUnder("src", textFiles),
  ...filesUnder("test", textFiles),
  ...filesUnder("bench", textFiles),
  "eslint.config.js",
  "README.md",
];
const read = (path: string) => readFileSync(join(root, path), "utf8");
const lineOf = (text: string, index: number) => text.slice(0, index).split("\n").length;

describe("docs/design.md stays true of the code", () => {
  const numbers = documentedInvariants(design);

  test("its invariants are numbered 1, 2, 3, … without gaps", () => {
    expect(numbers.length).toBeGreaterThan(0);
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
  });

  test("every invariant the code cites by number is one of them", () => {
    const missing: string[] = [];
    let cited = 0;
    for (const path of citingFiles) {
      const text = read(path);
      for (const c of citedInvariants(text)) {
        cited++;
        if (!numbers.includes(c.n)) missing.push(`${path}:${lineOf(text, c.index)} cites invariant ${c.n}`);
      }
    }
    expect(cited).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });

  test("the citation check reads the ways the code cites, and catches a number the document lacks", () => {
    const cites = (text: string) => citedInvariants(text).map((c) => c.n);
    expect(cites("(invariant 2: logs hold no plaintext)")).toEqual([2]);
    expect(cites("Invariants 3 and 4 through the sdk")).toEqual([3, 4]);
    expect(cites("checking invariants 1-5")).toEqual([1, 2, 3, 4, 5]);
    expect(cites("// Invariant: only mediator devices change a caucus's membership.")).toEqual([]);
    expect(cites("see invariant 99").filter((n) => !numbers.includes(n))).toEqual([99]);
  });

  test("every word of its vocabulary is used in src/", () => {
    const words = vocabulary(design);
    for (const core of [
      "channel",
      "mediator",
      "party",
      "handler",
      "device",
      "caucus",
      "signal",
      "stance",
      "principal",
      "disclosure",
      "attribution",
      "conveyance",
      "receipt",
      "acknowledgement",
      "understanding",
      "transcript",
    ])
      expect(words).toContain(core);
    const src = filesUnder("src", textFiles).map(read).join("\n");
    expect(words.filter((w) => !usedIn(src, w))).toEqual([]);
    expect(usedIn(src, "flux capacitor")).toBe(false);
    expect(usedIn("const channelInfo = 1", "channel info")).toBe(true);
  });

  test("every file it names exists (paths under src/ may leave out the src/)", () => {
    const named = [...design.matchAll(/`([\w./-]+\.(?:ts|tsx|js|json|md))`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(10);
    const everyFile = new Set([...filesUnder("src", textFiles), ...filesUnder("test", textFiles)]);
    const exists = (path: string) =>
      everyFile.has(path) ||
      everyFile.has(`src/${path}`) ||
      [...everyFile].some((f) => f.endsWith(`/${path}`)) ||
      existsSync(join(root, path));
    expect([...new Set(named)].filter((path) => !exists(path))).toEqual([]);
  });

  test("nothing cites the absent DESIGN.md, and the README points to the design", () => {
    const stale = citingFiles.filter((path) => read(path).includes("DESIGN.md"));
    expect(stale).toEqual([]);
    expect(read("README.md")).toContain(`](${designPath})`);
  });
});
