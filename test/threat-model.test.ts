import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";

/**
 * THREAT-MODEL.md points every claim at a test: a test file and a test's name, written
 * `` `test/x.test.ts`: "name"; "another name" ``. It must stay true mechanically: every cited file
 * exists and declares every name cited from it in a `test(`, `it(` or `describe(` call, and every
 * file the "how" column names exists. A renamed or misspelt test fails here.
 */
const root = resolve(import.meta.dirname, "..");
const doc = readFileSync(join(root, "THREAT-MODEL.md"), "utf8");

const collapse = (s: string) => s.replace(/\s+/g, " ");

/** Every (file, name) pair the document cites, in order. */
function citations(markdown: string): { file: string; name: string }[] {
  const out: { file: string; name: string }[] = [];
  for (const m of collapse(markdown).matchAll(/`([\w./-]+\.test\.tsx?)`:((?:\s*"[^"]+"\s*;?)+)/g))
    for (const n of m[2]!.matchAll(/"([^"]+)"/g)) out.push({ file: m[1]!, name: n[1]! });
  return out;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** What is wrong with the citations: a missing file, or a name its file does not declare. */
function problems(markdown: string, read: (file: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const { file, name } of citations(markdown)) {
    const source = read(file);
    if (source === undefined) {
      out.push(`${file}: no such file`);
      continue;
    }
    const declared = new RegExp(`\\b(?:test|it|describe)\\(\\s*(["'\`])${escape(name)}\\1`);
    if (!declared.test(collapse(source))) out.push(`${file}: no test named "${name}"`);
  }
  return out;
}

const readFromRepo = (file: string) =>
  existsSync(join(root, file)) ? readFileSync(join(root, file), "utf8") : undefined;

describe("THREAT-MODEL.md stays true of the tests", () => {
  test("it cites tests from every adversary's table", () => {
    const cited = citations(doc);
    expect(cited.length).toBeGreaterThan(80);
    for (const title of [
      "The relay operator",
      "A network observer",
      "Another party",
      "A removed handler",
      "A staff device",
      "The mediator",
    ]) {
      const start = doc.indexOf(`## ${title}\n`);
      expect(start, title).toBeGreaterThanOrEqual(0);
      const end = doc.indexOf("\n## ", start + 1);
      const rows = doc
        .slice(start, end)
        .split("\n")
        .filter((l) => l.startsWith("| ") && !l.startsWith("| ---") && !l.startsWith("| capability"));
      expect(rows.length, title).toBeGreaterThan(0);
      // Every row either cites a test or says plainly that none proves it.
      for (const row of rows) expect(citations(row).length > 0 || row.includes("no test"), row).toBe(true);
    }
  });

  test("every cited test file exists and declares every test name cited from it", () => {
    expect(problems(doc, readFromRepo)).toEqual([]);
  });

  test("the check catches a misspelt name and a missing file", () => {
    const source = `describe("a suite", () => {\n  test("the real name", () => {});\n});`;
    const read = (file: string) => (file === "test/a.test.ts" ? source : undefined);
    expect(problems('`test/a.test.ts`: "the real name"; "a suite"', read)).toEqual([]);
    expect(problems('`test/a.test.ts`: "the reel name"', read)).toEqual([
      'test/a.test.ts: no test named "the reel name"',
    ]);
    expect(problems('`test/b.test.ts`: "the real name"', read)).toEqual(["test/b.test.ts: no such file"]);
    // A name that only occurs in a comment or a string elsewhere is not a test.
    expect(problems('`test/a.test.ts`: "real name"', read)).toEqual([
      'test/a.test.ts: no test named "real name"',
    ]);
  });

  test("every source file the document names exists", () => {
    const named = [...doc.matchAll(/`((?:src|test)\/[\w./-]+)`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter((p) => !existsSync(join(root, p)))).toEqual([]);
  });
});
