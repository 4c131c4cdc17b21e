import { EventEmitter } from "node:events";
import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { ServerError } from "./errors.js";
import { writeRawRefusal } from "./raw-refusal.js";

/** A socket stand-in that records what is written to it. */
function socket(): Duplex & { written: () => string } {
  const chunks: Buffer[] = [];
  const duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return Object.assign(duplex, { written: () => Buffer.concat(chunks).toString("latin1") });
}

const refusal = () => new ServerError("invalid_request", "malformed HTTP request");

describe("writeRawRefusal", () => {
  it("writes one complete HTTP/1.1 response in the error shape and ends the connection", () => {
    const s = socket();
    writeRawRefusal(s, new ServerError("payload_too_large", "request headers are too large", 431), {
      "X-A": "1",
    });
    expect(s.written()).toBe(
      "HTTP/1.1 431 Request Header Fields Too Large\r\n" +
        "Content-Type: application/json; charset=utf-8\r\n" +
        "Content-Length: 71\r\n" +
        "Connection: close\r\n" +
        "X-A: 1\r\n\r\n" +
        '{"error":"payload_too_large","message":"request headers are too large"}',
    );
    expect(s.writableEnded).toBe(true);
    s.destroy();
  });

  it("leaves a destroyed or already answered socket alone, and destroys one it cannot write to", () => {
    const destroyed = socket();
    destroyed.destroy();
    expect(() => writeRawRefusal(destroyed, refusal())).not.toThrow();
    expect(destroyed.written()).toBe("");

    const answered = socket();
    writeRawRefusal(answered, refusal());
    const first = answered.written();
    writeRawRefusal(answered, refusal());
    expect(answered.written()).toBe(first);
    answered.destroy();

    // An errored socket: not writable, though nobody ended or destroyed it.
    const errored = Object.defineProperty(socket(), "writable", { value: false });
    writeRawRefusal(errored, refusal());
    expect(errored.destroyed).toBe(true);
    expect(errored.written()).toBe("");
  });

  it("waits for the response in flight on the connection, then answers after it", () => {
    const s = socket();
    const inFlight = Object.assign(new EventEmitter(), {
      writableFinished: false,
      headersSent: false,
      req: { complete: true },
    });
    Object.assign(s, { _httpMessage: inFlight });
    writeRawRefusal(s, refusal());
    expect(s.written()).toBe("");
    expect(s.writableEnded).toBe(false);
    inFlight.writableFinished = true;
    inFlight.emit("finish");
    expect(s.written()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    s.destroy();
  });

  it("answers at once for a request whose own body could not be parsed (its route never will)", () => {
    const s = socket();
    const reading = { writableFinished: false, headersSent: false, req: { complete: false } };
    Object.assign(s, { _httpMessage: Object.assign(new EventEmitter(), reading) });
    writeRawRefusal(s, refusal());
    expect(s.written()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    s.destroy();
  });
});
