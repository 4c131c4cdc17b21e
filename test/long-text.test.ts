import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { limits, ValidationError } from "../src/protocol/index.js";
import { startNetwork, type TestNetwork } from "./helpers/network.js";

/**
 * Issue 12, item 1: a text far longer than one MLS message holds (256 KiB of UTF-8 in four
 * scripts and emoji) goes from a handler through the mediator to the other party byte-exact, as
 * several padded fragments, and the relay's data directory holds none of it in clear.
 */
const MARKER = "סמן-נשיא-نشانگر-маркер-🕊️";
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

function longText(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `${i}. ${MARKER} טיוטת הבנה: אין הסלמה · پیش‌نویس تفاهم: بدون تشدید · проект понимания: без эскалации 🌍🤝`;
    lines.push(line);
    size += Buffer.byteLength(line) + 1;
  }
  return lines.join("\n");
}

/** Every byte the relay keeps on disk (the database and its write-ahead log). */
function storedBytes(dir: string): Buffer {
  return Buffer.concat(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => readFileSync(join(f.parentPath, f.name))),
  );
}

describe("long texts", () => {
  let net: TestNetwork;
  beforeAll(async () => {
    net = await startNetwork();
  });
  afterAll(() => net?.close());

  test("256 KiB of unicode goes from a handler through the mediator to the other party byte-exact", async () => {
    const text = longText(256 * 1024);
    expect(Buffer.byteLength(text)).toBeGreaterThanOrEqual(256 * 1024);
    const [a] = net.handlers.A!;
    const [b] = net.handlers.B!;
    const before = a!.caucus(a!.caucusId).head.seq;
    const signal = await a!.send({ text, disclosure: "verbatim" });
    // More than one MLS message (each under limits.ciphertextBytes, or the relay would refuse it).
    expect(signal.seq - before).toBeGreaterThan(1);
    expect(signal.payload?.body.type === "signal" && sha256(signal.payload.body.text)).toBe(sha256(text));

    await net.mediator.sync();
    const atMediator = net.mediator.entries(net.caucus.A!).find((e) => e.eventId === signal.eventId);
    expect(atMediator?.payload?.body.type === "signal" && sha256(atMediator.payload.body.text)).toBe(
      sha256(text),
    );
    await net.mediator.convey({ from: net.caucus.A!, eventId: signal.eventId, mode: "verbatim" });

    await b!.sync();
    const conveyed = b!.entries(b!.caucusId).find((e) => e.payload?.body.type === "conveyance");
    expect(conveyed?.payload?.body.type === "conveyance" && sha256(conveyed.payload.body.text)).toBe(
      sha256(text),
    );
    await a!.sync();
    const receipt = a!.entries(a!.caucusId).find((e) => e.payload?.body.type === "receipt");
    expect(receipt?.payload?.body.type === "receipt" && sha256(receipt.payload.body.text)).toBe(sha256(text));

    // The transcript shows each long event once, not its fragments.
    expect(b!.entries(b!.caucusId).filter((e) => e.payload?.body.type === "conveyance")).toHaveLength(1);

    const stored = storedBytes(net.dataDir);
    expect(stored.length).toBeGreaterThan(3 * 256 * 1024);
    for (const clear of [MARKER, "טיוטת הבנה", "پیش‌نویس تفاهم", "проект понимания"]) {
      expect(stored.indexOf(Buffer.from(clear, "utf8")), clear).toBe(-1);
      expect(stored.indexOf(Buffer.from(clear, "utf16le")), clear).toBe(-1);
    }
  });

  test("two handlers sending long texts at once: each arrives whole at every device", async () => {
    const second = await net.addHandler("A");
    const [a] = net.handlers.A!;
    await a!.sync();
    const texts = [longText(400 * 1024), `${longText(300 * 1024)} (the other handler)`];
    const sent = await Promise.all([
      a!.send({ text: texts[0]!, disclosure: "verbatim" }),
      second.send({ text: texts[1]!, disclosure: "verbatim" }),
    ]);
    await net.mediator.sync();
    for (const [i, e] of sent.entries()) {
      const seen = net.mediator.entries(net.caucus.A!).find((x) => x.eventId === e.eventId);
      expect(seen?.payload?.body.type === "signal" && sha256(seen.payload.body.text)).toBe(sha256(texts[i]!));
    }
    for (const device of [a!, second]) {
      await device.sync();
      expect(device.caucus(device.caucusId).problem).toBeUndefined();
      for (const [i, e] of sent.entries()) {
        const seen = device.entries(device.caucusId).find((x) => x.eventId === e.eventId);
        expect(seen?.payload?.body.type === "signal" && sha256(seen.payload.body.text)).toBe(
          sha256(texts[i]!),
        );
      }
    }
  });

  test("1 MiB goes through; a byte more is refused on the device, saying the limit and where, and nothing is sent", async () => {
    const [a] = net.handlers.A!;
    const text = longText(limits.textBytes - 200);
    const exact = text + "x".repeat(limits.textBytes - Buffer.byteLength(text));
    expect(Buffer.byteLength(exact)).toBe(limits.textBytes);
    const sent = await a!.send({ text: exact, disclosure: "mediator_only" });
    expect(sent.payload?.body.type === "signal" && sent.payload.body.text.length).toBe(exact.length);
    await net.mediator.sync();
    const seen = net.mediator.entries(net.caucus.A!).find((e) => e.eventId === sent.eventId);
    expect(seen?.payload?.body.type === "signal" && sha256(seen.payload.body.text)).toBe(sha256(exact));

    const head = a!.caucus(a!.caucusId).head;
    const error = await a!.send({ text: `${exact}y`, disclosure: "verbatim" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe("invalid_request");
    expect((error as ValidationError).message).toContain(`${limits.textBytes + 1} bytes of UTF-8`);
    expect((error as ValidationError).message).toContain("at most 1 MiB (1048576 bytes)");
    expect((error as ValidationError).message).toContain("checked on this device, nothing was sent");
    await a!.sync();
    expect(a!.caucus(a!.caucusId).head).toEqual(head);
  });
});
