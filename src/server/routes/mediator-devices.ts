import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import {
  createMediatorLinkRequest,
  createMediatorLinkResponse,
  mediatorLinkSigningString,
  parse,
  redeemMediatorLinkRequest,
  redeemMediatorLinkResponse,
  removeMediatorDeviceResponse,
  uploadKeyPackageRequest,
  uploadKeyPackageResponse,
} from "../../protocol/index.js";
import { mediatorOf } from "../auth.js";
import { decodeBase64Url } from "../base64url.js";
import { ed25519PublicKey, verifyEd25519 } from "../ed25519.js";
import { ServerError, notFound } from "../errors.js";
import { caucusParams, deviceParams, linkParams, type RouteContext } from "./context.js";
import { publishAll } from "./publish.js";

/**
 * The mediator's own devices (staff). A device is linked by a one-time link code that an existing
 * device of the same mediator made; it then joins each caucus of the mediator's channels by
 * uploading a key package that an existing device adds by commit. The relay only groups the
 * devices and enforces who may do what: the MLS credentials that make a device the mediator's are
 * signed with the mediator's identity key, which the relay never has.
 */
export function registerMediatorDeviceRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { storage, notifier, authenticate } = ctx;

  app.post(
    "/v1/mediator-links",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "Create a one-time link that adds a device to this mediator's devices (staff)",
          description:
            "The link key pair is made by the mediator's device and handed to the new device out of " +
            "band; the server only ever sees its public half, so it cannot redeem the link itself. " +
            "The new device will join every channel this device mediates when it redeems the link.",
          auth: "mediator",
          body: createMediatorLinkRequest,
          responses: { 201: { description: "Created", schema: createMediatorLinkResponse } },
        },
      },
    },
    async (request, reply) => {
      const mediator = mediatorOf(request);
      const body = parse(createMediatorLinkRequest, request.body, "body");
      if (!ed25519PublicKey(body.linkPublicKey)) {
        throw new ServerError("invalid_request", "linkPublicKey: not an Ed25519 public key");
      }
      await storage.createMediatorLink({
        linkId: body.linkId,
        linkPublicKey: body.linkPublicKey,
        createdBy: mediator.deviceId,
      });
      const response: z.infer<typeof createMediatorLinkResponse> = { linkId: body.linkId };
      return reply.code(201).send(response);
    },
  );

  app.post(
    "/v1/mediator-links/:linkId/redeem",
    {
      config: {
        doc: {
          summary: "Redeem a link: register a new mediator device, pending in every caucus of its channels",
          description:
            "signature: Ed25519 by the link key over the UTF-8 bytes of " +
            "mediatorLinkSigningString(linkId, deviceId, authPublicKey). One-time: a second redemption " +
            "gets invite_used and changes nothing.",
          auth: "none",
          body: redeemMediatorLinkRequest,
          responses: { 201: { description: "Redeemed", schema: redeemMediatorLinkResponse } },
        },
      },
    },
    async (request, reply) => {
      const { linkId } = parse(linkParams, request.params, "path");
      const body = parse(redeemMediatorLinkRequest, request.body, "body");
      if (!ed25519PublicKey(body.authPublicKey)) {
        throw new ServerError("invalid_request", "authPublicKey: not an Ed25519 public key");
      }
      const link = await storage.getMediatorLink(linkId);
      if (!link) throw new ServerError("invite_invalid", "unknown link");
      // Checked before "used": only the link's holder may learn whether it was redeemed.
      const signed = mediatorLinkSigningString(linkId, body.deviceId, body.authPublicKey);
      if (!verifyEd25519(link.linkPublicKey, signed, body.signature)) {
        throw new ServerError("signature_invalid", "signature by the link key does not verify", 400);
      }
      const { caucusIds } = await storage.redeemMediatorLink({
        linkId,
        deviceId: body.deviceId,
        authPublicKey: body.authPublicKey,
      });
      const response: z.infer<typeof redeemMediatorLinkResponse> = { deviceId: body.deviceId, caucusIds };
      return reply.code(201).send(response);
    },
  );

  app.put(
    "/v1/caucuses/:caucusId/key-package",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "A pending mediator device hands in its MLS key package for this caucus",
          description:
            "Only for a mediator device that waits to join the caucus (it was linked, or the caucus was " +
            "opened by another device of its mediator). Replaces an earlier key package. The caucus's " +
            "joined mediator devices see it in GET …/pending and add it by commit.",
          auth: "mediator",
          body: uploadKeyPackageRequest,
          responses: { 200: { description: "Stored", schema: uploadKeyPackageResponse } },
        },
      },
    },
    async (request) => {
      const mediator = mediatorOf(request);
      const { caucusId } = parse(caucusParams, request.params, "path");
      const body = parse(uploadKeyPackageRequest, request.body, "body");
      if (decodeBase64Url(body.keyPackage, "keyPackage").length === 0) {
        throw new ServerError("invalid_request", "keyPackage: empty");
      }
      // not_found for every other case: unknown caucus, not a member, already joined, removed.
      await storage.putMediatorKeyPackage(caucusId, mediator.deviceId, body.keyPackage);
      const members = await storage.listMembers(caucusId);
      await publishAll(
        notifier,
        request.log,
        members
          .filter((m) => m.role === "mediator" && m.joined && !m.removed)
          .map((m) => ({ deviceId: m.deviceId, frame: { type: "membership", caucusId } })),
      );
      const response: z.infer<typeof uploadKeyPackageResponse> = { caucusId, deviceId: mediator.deviceId };
      return response;
    },
  );

  app.delete(
    "/v1/mediator-devices/:deviceId",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "Remove another device of this mediator (staff) from it",
          description:
            "Commits must first remove the device from every caucus it joined (else still_member): " +
            "that re-keys each MLS group, so the device can read nothing sent afterwards. This then " +
            "drops it from every channel and from the caucuses it was still waiting to join, and voids " +
            "links it made. A device cannot remove itself; unknown devices and other mediators' " +
            "devices get not_found.",
          auth: "mediator",
          responses: { 200: { description: "Removed", schema: removeMediatorDeviceResponse } },
        },
      },
    },
    async (request) => {
      const mediator = mediatorOf(request);
      const { deviceId } = parse(deviceParams, request.params, "path");
      if (deviceId === mediator.deviceId) throw notFound();
      const { droppedCaucusIds } = await storage.removeMediatorDevice({
        byDeviceId: mediator.deviceId,
        deviceId,
      });
      await publishAll(
        notifier,
        request.log,
        droppedCaucusIds.map((caucusId) => ({ deviceId, frame: { type: "membership", caucusId } })),
      );
      const response: z.infer<typeof removeMediatorDeviceResponse> = { deviceId, droppedCaucusIds };
      return response;
    },
  );
}
