const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export const utf8 = (s: string): Uint8Array => encoder.encode(s);
export const fromUtf8 = (b: Uint8Array): string => decoder.decode(b);

/** Bytes of `s` in UTF-8 (a lone surrogate counts as U+FFFD's three), without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/**
 * The fastest codec the platform has: `Buffer` on Node, the native `Uint8Array` base64 methods
 * where a browser has them, else a portable loop. Each is checked against the others in
 * encoding.test.ts; decoding is equally strict in all (the alphabet check below).
 */
interface NativeBase64 {
  toBase64(this: Uint8Array, opts: { alphabet: "base64url"; omitPadding: true }): string;
}
interface NativeBase64Ctor {
  fromBase64(s: string, opts: { alphabet: "base64url"; lastChunkHandling: "loose" }): Uint8Array;
}
const nodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const nativeTo = (Uint8Array.prototype as Partial<NativeBase64>).toBase64;
const nativeFrom = (Uint8Array as Partial<NativeBase64Ctor>).fromBase64;

export const base64UrlCodecs = {
  portable: {
    encode(bytes: Uint8Array): string {
      let bin = "";
      for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]!);
      return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
    decode(s: string): Uint8Array {
      const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    },
  },
  ...(nodeBuffer && {
    node: {
      encode: (bytes: Uint8Array): string =>
        nodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url"),
      // A copy: Buffer.from may hand out a slice of its shared pool.
      decode: (s: string): Uint8Array => new Uint8Array(nodeBuffer.from(s, "base64url")),
    },
  }),
  ...(nativeTo &&
    nativeFrom && {
      native: {
        encode: (bytes: Uint8Array): string =>
          nativeTo.call(bytes, { alphabet: "base64url", omitPadding: true }),
        decode: (s: string): Uint8Array =>
          nativeFrom.call(Uint8Array, s, { alphabet: "base64url", lastChunkHandling: "loose" }),
      },
    }),
};
const codec = base64UrlCodecs.native ?? base64UrlCodecs.node ?? base64UrlCodecs.portable;

export function toBase64Url(bytes: Uint8Array): string {
  return codec.encode(bytes);
}

/** Unpadded base64url only; throws TypeError on anything else (every codec alike). */
export function fromBase64Url(s: string): Uint8Array {
  // A length of 4n+1 cannot be base64: one character carries only 6 bits.
  if (!B64URL.test(s) || s.length % 4 === 1) throw new TypeError("not base64url");
  return codec.decode(s);
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
