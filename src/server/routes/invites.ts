import type { z } from "zod";
import {
  maxInviteTtlMs,
  redeemSigningString,
  sha256HexOf,
  type pendingResponse,
} from "../../protocol/index.js";
import { decodeBase64Url } from "../base64url.js";
import { ed25519PublicKey, verifyEd25519 } from "../ed25519.js";
import { ServerError } from "../errors.js";
import { requireMembership } from "../membership-access.js";
import type { RouteContext } from "./context.js";
import { disconnectRemoved, publishAll } from "./publish.js";
import type { RouteHandlers } from "./register-route.js";

export function inviteRoutes({
  storage,
  notifier,
  config,
}: RouteContext): RouteHandlers<"createInvite" | "redeemInvite" | "revokeInvite" | "listPending"> {
  return {
    async createInvite({ device: mediator, params: { caucusId }, body }) {
      await requireMembership(storage, caucusId, mediator.deviceId, { role: "mediator" });
      if (!ed25519PublicKey(body.invitePublicKey)) {
        throw new ServerError("invalid_request", "invitePublicKey: not an Ed25519 public key");
      }
      const expiresAt = Date.parse(body.expiresAt);
      const now = config.now();
      if (expiresAt <= now || expiresAt > now + maxInviteTtlMs)
        throw new ServerError("invalid_request", "expiresAt: must be in the future, at most 30 days ahead");
      await storage.createInvite({
        inviteId: body.inviteId,
        caucusId,
        invitePublicKey: body.invitePublicKey,
        expiresAt,
      });
      return { inviteId: body.inviteId, caucusId, expiresAt: new Date(expiresAt).toISOString() };
    },

    async redeemInvite({ params: { inviteId }, body, request }) {
      const keyPackage = decodeBase64Url(body.keyPackage, "keyPackage");
      if (!ed25519PublicKey(body.authPublicKey)) {
        throw new ServerError("invalid_request", "authPublicKey: not an Ed25519 public key");
      }
      const invite = await storage.getInvite(inviteId);
      if (!invite) throw new ServerError("invite_invalid", "unknown invite");
      // Checked before "used": only the invite's holder may learn whether it was redeemed.
      const signed = redeemSigningString(
        inviteId,
        body.deviceId,
        body.authPublicKey,
        sha256HexOf(keyPackage),
      );
      if (!verifyEd25519(invite.invitePublicKey, signed, body.signature)) {
        throw new ServerError("signature_invalid", "signature by the invite key does not verify", 400);
      }
      const membership = await storage.redeemInvite({
        inviteId,
        deviceId: body.deviceId,
        authPublicKey: body.authPublicKey,
        keyPackage: body.keyPackage,
        now: config.now(),
      });
      const mediators = (await storage.listMembers(membership.caucusId)).filter(
        (m) => m.role === "mediator" && m.joined && !m.removed,
      );
      await publishAll(
        notifier,
        request.log,
        mediators.map((m) => ({ deviceId: m.deviceId, frame: { type: "membership", caucusId: m.caucusId } })),
      );
      return { deviceId: body.deviceId, caucusId: membership.caucusId };
    },

    async revokeInvite({ device: mediator, params: { inviteId }, request }) {
      const { caucusId, droppedDeviceId } = await storage.revokeInvite({
        inviteId,
        byDeviceId: mediator.deviceId,
      });
      if (droppedDeviceId !== undefined) await disconnectRemoved(notifier, request.log, [droppedDeviceId]);
      return { inviteId, caucusId, ...(droppedDeviceId !== undefined ? { droppedDeviceId } : {}) };
    },

    async listPending({ device: mediator, params: { caucusId } }) {
      await requireMembership(storage, caucusId, mediator.deviceId, { role: "mediator" });
      const members = await storage.listMembers(caucusId);
      const response: z.infer<typeof pendingResponse> = { pending: [] };
      for (const m of members) {
        if (m.joined || m.removed || m.keyPackage === undefined) continue;
        if (m.role === "mediator")
          response.pending.push({ deviceId: m.deviceId, role: "mediator", keyPackage: m.keyPackage });
        else if (m.inviteId !== undefined)
          response.pending.push({ deviceId: m.deviceId, inviteId: m.inviteId, keyPackage: m.keyPackage });
      }
      return response;
    },
  };
}
