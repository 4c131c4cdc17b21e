import { z } from "zod";
import { blobId, caucusId, channelId, deviceId, inviteId, linkId } from "./ids.js";
import * as wire from "./wire.js";

/**
 * The HTTP API, once. The relay validates every request with these schemas and serves its
 * OpenAPI document from this table, and the sdk's client builds every URL from it, so the three
 * cannot drift apart. Each key is the operation's `operationId`.
 */

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

/** "mediator": a bearer token of a mediator device; a party device gets 403 before any lookup. */
export type RouteAuth = "none" | "bearer" | "mediator";

export interface RouteSpec {
  method: HttpMethod;
  /** OpenAPI path template: one `{name}` per key of `params`. */
  path: string;
  auth: RouteAuth;
  tag: RouteTag;
  summary: string;
  description?: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  response: z.ZodType;
  /**
   * Bytes, not JSON (attachment blobs): "upload", the request body is application/octet-stream
   * with a Content-Length, handed to the handler as a stream; "download", the handler answers a
   * stream (protocol/wire.ts BlobDownload).
   */
  stream?: "upload" | "download";
  /** Success statuses, all answered with `response`; the first is the usual one. */
  statuses: readonly [SuccessStatus, ...SuccessStatus[]];
}

export interface SuccessStatus {
  status: number;
  description: string;
}

export const routeTags = {
  relay: "The relay itself: liveness and this API's description",
  devices: "Registering devices and logging in",
  channels: "Channels and caucuses (mediator devices)",
  invites: "One-time invites that add a party's device to a caucus",
  staff: "The mediator's own devices: links, key packages, removal",
  events: "Each caucus's transcript of MLS messages",
} as const;
export type RouteTag = keyof typeof routeTags;

export const caucusParams = z.strictObject({ caucusId });
export const channelParams = z.strictObject({ channelId });
export const inviteParams = z.strictObject({ inviteId });
export const linkParams = z.strictObject({ linkId });
export const deviceParams = z.strictObject({ deviceId });
export const blobParams = z.strictObject({ caucusId, blobId });
export const shortInviteParams = z.strictObject({ lookupId: wire.shortInviteLookupId });

export const routes = {
  health: {
    method: "GET",
    path: "/healthz",
    auth: "none",
    tag: "relay",
    summary: "Liveness",
    response: wire.healthResponse,
    statuses: [{ status: 200, description: "Up" }],
  },
  ready: {
    method: "GET",
    path: "/readyz",
    auth: "none",
    tag: "relay",
    summary: "Readiness: whether this relay node should get traffic",
    description:
      "503 `unavailable` while the node shuts down (after SIGTERM), when its storage does not answer, " +
      "or when its link to NATS is down (with BACKCHANNEL_NATS_URL). `/healthz` answers as long as " +
      "the process serves at all.",
    response: wire.healthResponse,
    statuses: [{ status: 200, description: "Ready" }],
  },
  getOpenApi: {
    method: "GET",
    path: "/openapi.json",
    auth: "none",
    tag: "relay",
    summary: "This document (OpenAPI 3.1)",
    response: wire.openApiDocument,
    statuses: [{ status: 200, description: "The OpenAPI document" }],
  },
  registerMediator: {
    method: "POST",
    path: "/v1/mediators",
    auth: "none",
    tag: "devices",
    summary: "Register a mediator device (a mediator account is a device)",
    description:
      "Registration is closed by default: the body carries a `registrationToken` from the relay's operator " +
      "(`backchannel admin token create`), and each registration spends one of its uses. Without one the " +
      "relay answers 403 `registration_closed`; with one that is unknown, used up, revoked or expired, 403 " +
      "`registration_token_invalid` (the same answer for each, so nothing tells which tokens exist). A relay " +
      "whose operator opened registration (`--registration open`) registers anyone and ignores the token.",
    body: wire.registerMediatorRequest,
    response: wire.registerMediatorResponse,
    statuses: [{ status: 201, description: "Registered" }],
  },
  createChallenge: {
    method: "POST",
    path: "/v1/auth/challenge",
    auth: "none",
    tag: "devices",
    summary: "Get a one-time login nonce (any device id gets one: no enumeration)",
    body: wire.challengeRequest,
    response: wire.challengeResponse,
    statuses: [{ status: 200, description: "Nonce to sign" }],
  },
  createSession: {
    method: "POST",
    path: "/v1/auth/session",
    auth: "none",
    tag: "devices",
    summary: "Exchange a signed nonce for a bearer token",
    description: "Sign the UTF-8 bytes of loginSigningString(deviceId, nonce) with the device's Ed25519 key.",
    body: wire.sessionRequest,
    response: wire.sessionResponse,
    statuses: [{ status: 200, description: "Session" }],
  },
  getRemovals: {
    method: "POST",
    path: "/v1/auth/removals",
    auth: "none",
    tag: "devices",
    summary: "The mediator's signed word on this device's removals (for a device that may no longer log in)",
    description:
      "Take a nonce from createChallenge and sign the UTF-8 bytes of removalsSigningString(deviceId, nonce) " +
      "with the device's login key. Answers the removal proofs the mediator posted with its remove commits.",
    body: wire.sessionRequest,
    response: wire.removalsResponse,
    statuses: [{ status: 200, description: "Removal proofs (possibly none)" }],
  },
  logout: {
    method: "POST",
    path: "/v1/auth/logout",
    auth: "bearer",
    tag: "devices",
    summary: "Revoke this bearer token (or, with all: true, every token of this device)",
    description:
      "The revoked tokens stop working at once and the push sockets opened with them are closed " +
      "(code 4401). The device can log in again with its login key unless it was removed.",
    body: wire.logoutRequest,
    response: wire.logoutResponse,
    statuses: [{ status: 200, description: "Revoked" }],
  },
  getMe: {
    method: "GET",
    path: "/v1/me",
    auth: "bearer",
    tag: "devices",
    summary: "This device and its caucus memberships",
    response: wire.meResponse,
    statuses: [{ status: 200, description: "Device" }],
  },
  createChannel: {
    method: "POST",
    path: "/v1/channels",
    auth: "mediator",
    tag: "channels",
    summary: "Open a channel mediated by this device",
    body: wire.createChannelRequest,
    response: wire.createChannelResponse,
    statuses: [{ status: 201, description: "Created" }],
  },
  listChannels: {
    method: "GET",
    path: "/v1/channels",
    auth: "mediator",
    tag: "channels",
    summary: "Channels this device mediates, with their caucuses",
    response: wire.listChannelsResponse,
    statuses: [{ status: 200, description: "Channels" }],
  },
  setChannelRetention: {
    method: "PUT",
    path: "/v1/channels/{channelId}/retention",
    auth: "mediator",
    tag: "channels",
    summary: "Set how long the relay keeps this channel's application messages (null: keep them)",
    description:
      "A sweeper on the relay replaces each application message older than retentionDays with a " +
      "tombstone: the ciphertext is deleted, its envelope, hash, SHA-256 and size are kept, so " +
      "every device still verifies the transcript. Commits are kept (they carry no message). " +
      "Deletion happens between retentionDays and retentionDays plus an hour after the append.",
    params: channelParams,
    body: wire.setRetentionRequest,
    response: wire.channelSummary,
    statuses: [{ status: 200, description: "The channel as it now stands" }],
  },
  closeChannel: {
    method: "POST",
    path: "/v1/channels/{channelId}/close",
    auth: "mediator",
    tag: "channels",
    summary: "Close a channel: no more appends (channel_closed), its messages deleted after a grace period",
    description:
      "Every later append to its caucuses, and every new caucus, is refused with channel_closed. " +
      "At closed.deleteAt the relay tombstones every application message of the channel and drops " +
      "Welcomes still waiting; members still verify their transcripts. Closing twice is fine " +
      "(the first deleteAt stands).",
    params: channelParams,
    body: wire.closeChannelRequest,
    response: wire.channelSummary,
    statuses: [{ status: 200, description: "Closed" }],
  },
  createCaucus: {
    method: "POST",
    path: "/v1/channels/{channelId}/caucuses",
    auth: "mediator",
    tag: "channels",
    summary: "Open a caucus in a channel; this device is a member from seq 1",
    description:
      "The channel's other mediator devices become pending members: each uploads a key package " +
      "(PUT /v1/caucuses/{caucusId}/key-package) and a joined mediator device adds it by commit.",
    params: channelParams,
    body: wire.createCaucusRequest,
    response: wire.createCaucusResponse,
    statuses: [{ status: 201, description: "Created" }],
  },
  createInvite: {
    method: "POST",
    path: "/v1/caucuses/{caucusId}/invites",
    auth: "mediator",
    tag: "invites",
    summary: "Create a one-time invite into a caucus",
    description:
      "The invite key pair is made by the mediator and handed to the party out of band; the " +
      "server only ever sees its public half, so it cannot redeem the invite itself. It expires " +
      "at expiresAt (at most 30 days ahead): later redemptions get invite_expired.",
    params: caucusParams,
    body: wire.createInviteRequest,
    response: wire.createInviteResponse,
    statuses: [{ status: 201, description: "Created" }],
  },
  revokeInvite: {
    method: "DELETE",
    path: "/v1/invites/{inviteId}",
    auth: "mediator",
    tag: "invites",
    summary: "Revoke an invite: later redemptions get invite_revoked",
    description:
      "For a joined mediator device of the invite's caucus (others get not_found). A device that " +
      "redeemed the invite and still waits to be admitted is dropped and can no longer log in; a " +
      "device already admitted stays (remove it by commit). Revoking twice is fine.",
    params: inviteParams,
    response: wire.revokeInviteResponse,
    statuses: [{ status: 200, description: "Revoked" }],
  },
  putShortInvite: {
    method: "POST",
    path: "/v1/short-invites",
    auth: "mediator",
    tag: "invites",
    summary: "Keep an invite code sealed under a short code, for one take",
    description:
      "The mediator's device derives lookupId and an AES-256-GCM key from a 100-bit short code (HKDF-SHA256) " +
      "and seals the invite code under the key, with lookupId as associated data. The relay sees neither " +
      "the short code nor the invite code. It forgets the box at expiresAt (at most 30 days ahead).",
    body: wire.putShortInviteRequest,
    response: wire.putShortInviteResponse,
    statuses: [{ status: 201, description: "Kept" }],
  },
  takeShortInvite: {
    method: "POST",
    path: "/v1/short-invites/{lookupId}/take",
    auth: "none",
    tag: "invites",
    summary: "Take a short invite's sealed box: it is deleted, so only one taker gets it",
    description:
      "Unknown, already taken and expired lookup ids get the same 404 invite_invalid. Counted against " +
      "the address's login limit, so online guessing of short codes is rate limited.",
    params: shortInviteParams,
    response: wire.takeShortInviteResponse,
    statuses: [{ status: 200, description: "The sealed box" }],
  },
  redeemInvite: {
    method: "POST",
    path: "/v1/invites/{inviteId}/redeem",
    auth: "none",
    tag: "invites",
    summary: "Redeem an invite: register a party device with a pending membership",
    description:
      "signature: Ed25519 by the invite key over the UTF-8 bytes of " +
      "redeemSigningString(inviteId, deviceId, authPublicKey, sha256 hex of the key package bytes). " +
      "Refused with invite_used, invite_expired or invite_revoked.",
    params: inviteParams,
    body: wire.redeemInviteRequest,
    response: wire.redeemInviteResponse,
    statuses: [{ status: 201, description: "Redeemed" }],
  },
  listPending: {
    method: "GET",
    path: "/v1/caucuses/{caucusId}/pending",
    auth: "mediator",
    tag: "invites",
    summary: "Devices waiting to be added by a commit",
    description:
      "Party devices that redeemed an invite, and this mediator's other devices that uploaded a " +
      "key package for this caucus (role: mediator).",
    params: caucusParams,
    response: wire.pendingResponse,
    statuses: [{ status: 200, description: "Pending devices" }],
  },
  createMediatorLink: {
    method: "POST",
    path: "/v1/mediator-links",
    auth: "mediator",
    tag: "staff",
    summary: "Create a one-time link that adds a device to this mediator's devices (staff)",
    description:
      "The link key pair is made by the mediator's device and handed to the new device out of " +
      "band; the server only ever sees its public half, so it cannot redeem the link itself. " +
      "The new device will join every channel this device mediates when it redeems the link.",
    body: wire.createMediatorLinkRequest,
    response: wire.createMediatorLinkResponse,
    statuses: [{ status: 201, description: "Created" }],
  },
  redeemMediatorLink: {
    method: "POST",
    path: "/v1/mediator-links/{linkId}/redeem",
    auth: "none",
    tag: "staff",
    summary: "Redeem a link: register a new mediator device, pending in every caucus of its channels",
    description:
      "signature: Ed25519 by the link key over the UTF-8 bytes of " +
      "mediatorLinkSigningString(linkId, deviceId, authPublicKey). One-time: a second redemption " +
      "gets invite_used and changes nothing.",
    params: linkParams,
    body: wire.redeemMediatorLinkRequest,
    response: wire.redeemMediatorLinkResponse,
    statuses: [{ status: 201, description: "Redeemed" }],
  },
  uploadKeyPackage: {
    method: "PUT",
    path: "/v1/caucuses/{caucusId}/key-package",
    auth: "mediator",
    tag: "staff",
    summary: "A pending mediator device hands in its MLS key package for this caucus",
    description:
      "Only for a mediator device that waits to join the caucus (it was linked, or the caucus was " +
      "opened by another device of its mediator). Replaces an earlier key package. The caucus's " +
      "joined mediator devices see it in GET …/pending and add it by commit.",
    params: caucusParams,
    body: wire.uploadKeyPackageRequest,
    response: wire.uploadKeyPackageResponse,
    statuses: [{ status: 200, description: "Stored" }],
  },
  removeMediatorDevice: {
    method: "DELETE",
    path: "/v1/mediator-devices/{deviceId}",
    auth: "mediator",
    tag: "staff",
    summary: "Remove another device of this mediator (staff) from it",
    description:
      "Commits must first remove the device from every caucus it joined (else still_member): " +
      "that re-keys each MLS group, so the device can read nothing sent afterwards. This then " +
      "drops it from every channel and from the caucuses it was still waiting to join, and voids " +
      "links it made. A device cannot remove itself; unknown devices and other mediators' " +
      "devices get not_found.",
    params: deviceParams,
    response: wire.removeMediatorDeviceResponse,
    statuses: [{ status: 200, description: "Removed" }],
  },
  appendEvent: {
    method: "POST",
    path: "/v1/caucuses/{caucusId}/events",
    auth: "bearer",
    tag: "events",
    summary: "Append an MLS message to the caucus transcript",
    description:
      "Idempotent on eventId (a retry gets 200 with duplicate: true). An application message that " +
      "would take the caucus's or its channel's stored ciphertext past the relay's quota gets 413 " +
      "quota_exceeded (commits are never refused by it). Commits: mediator devices " +
      "only, first commit for an epoch wins (epoch_conflict). Application messages must be in the " +
      "current epoch (stale_epoch). With `after`, only if the chain head is exactly that (head_moved).",
    params: caucusParams,
    body: wire.appendEventRequest,
    response: wire.appendEventResponse,
    statuses: [
      { status: 201, description: "Appended" },
      { status: 200, description: "Already appended (retry)" },
    ],
  },
  listEvents: {
    method: "GET",
    path: "/v1/caucuses/{caucusId}/events",
    auth: "bearer",
    tag: "events",
    summary: "Read the transcript from a cursor, in seq order",
    description:
      "Only events from this device's join point (fromSeq) on are returned. A page may hold fewer " +
      "than `limit` events (it stops after the relay's page size in bytes, 1 MiB of ciphertext by " +
      "default, and always holds at least one): page on with `after` = the last seq until it " +
      "reaches head.seq.",
    params: caucusParams,
    query: wire.listEventsQuery,
    response: wire.listEventsResponse,
    statuses: [{ status: 200, description: "Events and the current head" }],
  },
  getWelcome: {
    method: "GET",
    path: "/v1/caucuses/{caucusId}/welcome",
    auth: "bearer",
    tag: "events",
    summary: "The MLS Welcome that added this device, and the chain anchor to verify from",
    params: caucusParams,
    response: wire.welcomeResponse,
    statuses: [{ status: 200, description: "Welcome" }],
  },
  putBlob: {
    method: "PUT",
    path: "/v1/caucuses/{caucusId}/blobs/{blobId}",
    auth: "bearer",
    tag: "events",
    summary: "Upload an attachment's encrypted blob (application/octet-stream, streamed)",
    description:
      "The body is the blob's bytes, encrypted and padded on the device, exactly `bytes` of them. " +
      "Joined members of the caucus only (else 404 not_found). The relay streams it to storage and " +
      "counts it against the caucus's and the channel's quota of stored ciphertext before it reads a " +
      "byte: past either, 413 quota_exceeded and nothing is stored. A blob id already used gets 409 " +
      "invalid_request. A closed channel's caucus gets 409 channel_closed.",
    params: blobParams,
    query: wire.putBlobQuery,
    response: wire.putBlobResponse,
    stream: "upload",
    statuses: [{ status: 201, description: "Stored" }],
  },
  getBlob: {
    method: "GET",
    path: "/v1/caucuses/{caucusId}/blobs/{blobId}",
    auth: "bearer",
    tag: "events",
    summary: "Download an attachment's encrypted blob (application/octet-stream, streamed)",
    description:
      "Joined members of the caucus the blob was uploaded to only: anyone else, and any blob " +
      "retention or a closed channel deleted, gets 404 not_found.",
    params: blobParams,
    response: wire.blobDownload,
    stream: "download",
    statuses: [{ status: 200, description: "The blob's bytes" }],
  },
} as const satisfies Record<string, RouteSpec>;

export type Routes = typeof routes;
export type OperationId = keyof Routes;

/**
 * The push channel is a WebSocket, which OpenAPI cannot describe as an operation: the relay
 * serves it here and the sdk connects here. Its frames are `clientFrame` and `serverFrame`.
 */
export const pushSocket = {
  path: "/v1/ws",
  summary: "Push channel (WebSocket)",
  description: `The first frame must be {"type":"auth","token":"<bearer token>"} within 10 s, else the
socket closes (code 4401); the server answers {"type":"ready","deviceId"}. Then it pushes
{"type":"event","caucusId","seq"} (fetch from your cursor), {"type":"membership","caucusId"} and
{"type":"sync"} (this relay may have missed pushes: fetch every caucus from your cursor).
{"type":"ping"} gets {"type":"pong"}. A bad frame gets {"type":"error","error","message"}. The socket
closes (4401) when the token expires. A relay that shuts down closes it with 1012 (service restart):
connect again, to any node, and fetch from your cursor. A device already holding as many sockets as
the relay allows gets an error frame rate_limited and code 4429. A frame that breaks the WebSocket
protocol closes it with the protocol's code (1002, 1007, 1009). A GET without a WebSocket handshake gets 426, a refused
handshake a 4xx, both in the error shape.`,
} as const;

/** A path template with each `{name}` replaced by `value(name)`. */
export const fillPath = (path: string, value: (name: string) => string): string =>
  path.replace(/\{([A-Za-z]+)\}/g, (_, name: string) => value(name));
