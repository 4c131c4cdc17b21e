import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import {
  createInviteRequest,
  createInviteResponse,
  parse,
  pendingResponse,
  redeemInviteRequest,
  redeemInviteResponse,
  redeemSigningString,
  sha256HexOf,
} from "../../protocol/index.js";
import { mediatorOf } from "../auth.js";
import { decodeBase64Url } from "../base64url.js";
import { ed25519PublicKey, verifyEd25519 } from "../ed25519.js";
import { ServerError } from "../errors.js";
import { requireMembership } from "../membership-access.js";
import { caucusParams, inviteParams, type RouteContext } from "./context.js";
import { publishAll } from "./publish.js";

export function registerInviteRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { storage, notifier, authenticate } = ctx;

  app.post(
    "/v1/caucuses/:caucusId/invites",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "Create a one-time invite into a caucus",
          description:
            "The invite key pair is made by the mediator and handed to the party out of band; the " +
            "server only ever sees its public half, so it cannot redeem the invite itself.",
          auth: "mediator",
          body: createInviteRequest,
          responses: { 201: { description: "Created", schema: createInviteResponse } },
        },
      },
    },
    async (request, reply) => {
      const mediator = mediatorOf(request);
      const { caucusId } = parse(caucusParams, request.params, "path");
      await requireMembership(storage, caucusId, mediator.deviceId, { role: "mediator" });
      const body = parse(createInviteRequest, request.body, "body");
      if (!ed25519PublicKey(body.invitePublicKey)) {
        throw new ServerError("invalid_request", "invitePublicKey: not an Ed25519 public key");
      }
      await storage.createInvite({
        inviteId: body.inviteId,
        caucusId,
        invitePublicKey: body.invitePublicKey,
      });
      const response: z.infer<typeof createInviteResponse> = { inviteId: body.inviteId, caucusId };
      return reply.code(201).send(response);
    },
  );

  app.post(
    "/v1/invites/:inviteId/redeem",
    {
      config: {
        doc: {
          summary: "Redeem an invite: register a party device with a pending membership",
          description:
            "signature: Ed25519 by the invite key over the UTF-8 bytes of " +
            "redeemSigningString(inviteId, deviceId, authPublicKey, sha256 hex of the key package bytes).",
          auth: "none",
          body: redeemInviteRequest,
          responses: { 201: { description: "Redeemed", schema: redeemInviteResponse } },
        },
      },
    },
    async (request, reply) => {
      const { inviteId } = parse(inviteParams, request.params, "path");
      const body = parse(redeemInviteRequest, request.body, "body");
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
      });
      const mediators = (await storage.listMembers(membership.caucusId)).filter(
        (m) => m.role === "mediator" && m.joined && !m.removed,
      );
      await publishAll(
        notifier,
        request.log,
        mediators.map((m) => ({ deviceId: m.deviceId, frame: { type: "membership", caucusId: m.caucusId } })),
      );
      const response: z.infer<typeof redeemInviteResponse> = {
        deviceId: body.deviceId,
        caucusId: membership.caucusId,
      };
      return reply.code(201).send(response);
    },
  );

  app.get(
    "/v1/caucuses/:caucusId/pending",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "Devices waiting to be added by a commit",
          description:
            "Party devices that redeemed an invite, and this mediator's other devices that uploaded a " +
            "key package for this caucus (role: mediator).",
          auth: "mediator",
          responses: { 200: { description: "Pending devices", schema: pendingResponse } },
        },
      },
    },
    async (request) => {
      const mediator = mediatorOf(request);
      const { caucusId } = parse(caucusParams, request.params, "path");
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
  );
}
