import { sha256 } from "@noble/hashes/sha2.js";
import { canonicalJson } from "./canonical.js";
import { fromBase64Url, toHex, utf8 } from "./encoding.js";

/**
 * The transcript of a caucus is a hash chain over its events in server order. The server computes
 * each link when it stores an event; every client recomputes it from what it received, so a
 * dropped (gap), reordered or altered event, or a server showing two histories (fork), is caught.
 */
export interface ChainLinkFields {
  caucusId: string;
  seq: number;
  eventId: string;
  senderDeviceId: string;
  kind: string;
  epoch: number;
  /**
   * The sender's relay deletion time, when it gave one (relay-deletion.ts): covered by the hash,
   * so the relay cannot move it after the append without altering the chain. Links without one
   * hash exactly as before it existed.
   */
  deleteAt?: string | undefined;
}

/**
 * A link carries its MLS message bytes, or, once the relay deleted them (a tombstone: retention,
 * a closed channel), the SHA-256 of those bytes, which is all the link's hash ever covered: a
 * transcript verifies across tombstones exactly as it did before the deletion.
 */
export type ChainLink = ChainLinkFields &
  (
    | { /** base64url MLS message bytes */ ciphertext: string }
    | { /** hex SHA-256 of the deleted bytes */ ciphertextSha256: string }
  );

export function sha256HexOf(bytes: Uint8Array): string {
  return toHex(sha256(bytes));
}

export function genesisHash(caucusId: string): string {
  return sha256HexOf(utf8(`backchannel-transcript-v1\ngenesis\n${caucusId}`));
}

export function linkHash(prevHash: string, link: ChainLink): string {
  const ciphertextSha256 =
    "ciphertext" in link ? sha256HexOf(fromBase64Url(link.ciphertext)) : link.ciphertextSha256;
  return sha256HexOf(utf8(linkPreimage(prevHash, link, ciphertextSha256)));
}

/**
 * What a link's hash is the SHA-256 of, given the SHA-256 (hex) of the ciphertext's bytes: the one
 * definition of a link, for an implementation that hashes with another SHA-256 (the relay uses
 * node:crypto, several times faster than the pure-JS one every platform has).
 */
export function linkPreimage(prevHash: string, link: ChainLinkFields, ciphertextSha256: string): string {
  return canonicalJson({
    v: "backchannel-transcript-v1",
    caucusId: link.caucusId,
    seq: link.seq,
    eventId: link.eventId,
    senderDeviceId: link.senderDeviceId,
    kind: link.kind,
    epoch: link.epoch,
    deleteAt: link.deleteAt,
    ciphertextSha256,
    prev: prevHash,
  });
}

export type TranscriptProblem =
  | { kind: "gap"; expectedSeq: number; gotSeq: number }
  | { kind: "altered"; seq: number; eventId: string }
  | { kind: "fork"; seq: number; detail: string }
  | { kind: "undecryptable"; seq: number; eventId: string; detail: string };

export function describeProblem(p: TranscriptProblem): string {
  switch (p.kind) {
    case "gap":
      return `gap: expected event #${p.expectedSeq}, server sent #${p.gotSeq} (an event was dropped or reordered)`;
    case "altered":
      return `altered: event #${p.seq} (${p.eventId}) does not match its hash chain`;
    case "fork":
      return `fork at #${p.seq}: ${p.detail}`;
    case "undecryptable":
      return `undecryptable: event #${p.seq} (${p.eventId}): ${p.detail}`;
  }
}

/**
 * Verifies that `links` continue the chain from (`headSeq`, `headHash`). Returns the new head, or
 * the first problem. Hashes given by the server are compared with our own recomputation.
 */
export function extendChain(
  head: { seq: number; hash: string },
  links: readonly (ChainLink & { hash: string })[],
): { ok: true; head: { seq: number; hash: string } } | { ok: false; problem: TranscriptProblem } {
  let { seq, hash } = head;
  for (const link of links) {
    if (link.seq !== seq + 1)
      return { ok: false, problem: { kind: "gap", expectedSeq: seq + 1, gotSeq: link.seq } };
    const computed = linkHash(hash, link);
    if (computed !== link.hash)
      return { ok: false, problem: { kind: "altered", seq: link.seq, eventId: link.eventId } };
    seq = link.seq;
    hash = computed;
  }
  return { ok: true, head: { seq, hash } };
}
