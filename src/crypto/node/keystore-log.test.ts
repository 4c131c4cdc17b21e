import { createSecretKey, randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import { KeystoreError } from "../keystore-error.js";
import {
  CHAIN_START,
  encodeBatch,
  makeHeader,
  newKeystoreId,
  openRecords,
  sealRecord,
  type ChainPosition,
} from "./keystore-log.js";

/** The log format without scrypt, so that every byte of a log can be tried. */
const key = createSecretKey(randomBytes(32));
const header = makeHeader(
  { name: "scrypt", salt: "c2FsdHNhbHRzYWx0c2FsdA", N: 2 ** 14, r: 8, p: 1 },
  randomBytes(16),
  newKeystoreId(),
);

function log(batches: string[]): Buffer {
  let at: ChainPosition = CHAIN_START;
  const lines = batches.map((b) => {
    const { line, tag } = sealRecord(key, header, at, b);
    at = { n: at.n + 1, prev: tag };
    return line;
  });
  return Buffer.concat(lines);
}

const open = (buf: Buffer) => openRecords(key, header, buf, CHAIN_START, "test");
const batches = [
  encodeBatch([
    ["device", '{"v":1}'],
    ["caucus/c1", '{"group":"g0"}'],
  ]),
  encodeBatch([["entry/c1/0", '{"seq":1}']]),
  encodeBatch([["caucus/c1", '{"group":"g1"}']], ["entry/c1/0"]),
  encodeBatch([], ["device"]),
];

describe("keystore log (v2 records)", () => {
  test("batches round trip in order, with the bytes they take", () => {
    const buf = log(batches);
    const { batches: read, end, at } = open(buf);
    expect(end).toBe(buf.length);
    expect(at.n).toBe(4);
    expect(read.map((b) => [Object.fromEntries(b.set), b.delete])).toEqual([
      [{ device: '{"v":1}', "caucus/c1": '{"group":"g0"}' }, []],
      [{ "entry/c1/0": '{"seq":1}' }, []],
      [{ "caucus/c1": '{"group":"g1"}' }, ["entry/c1/0"]],
      [{}, ["device"]],
    ]);
  });

  test("a part named __proto__ stays a part", () => {
    const { batches: read } = open(log([encodeBatch([["__proto__", '{"polluted":true}']])]));
    expect([...read[0]!.set]).toEqual([["__proto__", '{"polluted":true}']]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("every flipped bit of every byte is keystore_corrupt, but the last newline's", () => {
    const good = log(batches);
    let tried = 0;
    for (let at = 0; at < good.length - 1; at++)
      for (const mask of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80]) {
        const bad = Buffer.from(good);
        bad[at] = bad[at]! ^ mask;
        expect(() => open(bad), `byte ${at} ^ ${mask}`).toThrow(KeystoreError);
        tried++;
      }
    expect(tried).toBeGreaterThan(2000);
    // The last newline is the last record's commit mark: without it the record is torn (a crash
    // mid-append), and the log ends before it.
    const bad = Buffer.from(good);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0x01;
    const { batches: read, end } = open(bad);
    expect(read).toHaveLength(3);
    expect(end).toBe(good.subarray(0, -1).lastIndexOf(0x0a) + 1);
  });

  test("records sealed under another header (another keystore) do not open", () => {
    const other = makeHeader(header.kdf, header.check, newKeystoreId());
    const { line } = sealRecord(key, other, CHAIN_START, batches[0]!);
    expect(() => open(line)).toThrow(KeystoreError);
  });
});
