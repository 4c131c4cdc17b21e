import { mediatorLinkSigningString } from "../../protocol/index.js";
import { decodeBase64Url } from "../base64url.js";
import { ed25519PublicKey, verifyEd25519 } from "../ed25519.js";
import { ServerError, notFound } from "../errors.js";
import type { RouteContext } from "./context.js";
import { disconnectRemoved, publishAll } from "./publish.js";
import type { RouteHandlers } from "./register-route.js";

/**
 * The mediator's own devices (staff). A device is linked by a one-time link code that an existing
 * device of the same mediator made; it then joins each caucus of the mediator's channels by
 * uploading a key package that an existing device adds by commit. The relay only groups the
 * devices and enforces who may do what: the MLS credentials that make a device the mediator's are
 * signed with the mediator's identity key, which the relay never has.
 */
export function mediatorDeviceRoutes({
  storage,
  notifier,
}: RouteContext): RouteHandlers<
  "createMediatorLink" | "redeemMediatorLink" | "uploadKeyPackage" | "removeMediatorDevice"
> {
  return {
    async createMediatorLink({ device: mediator, body }) {
      if (!ed25519PublicKey(body.linkPublicKey)) {
        throw new ServerError("invalid_request", "linkPublicKey: not an Ed25519 public key");
      }
      await storage.createMediatorLink({
        linkId: body.linkId,
        linkPublicKey: body.linkPublicKey,
        createdBy: mediator.deviceId,
      });
      return { linkId: body.linkId };
    },

    async redeemMediatorLink({ params: { linkId }, body }) {
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
      return { deviceId: body.deviceId, caucusIds };
    },

    async uploadKeyPackage({ device: mediator, params: { caucusId }, body, request }) {
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
      return { caucusId, deviceId: mediator.deviceId };
    },

    async removeMediatorDevice({ device: mediator, params: { deviceId }, request }) {
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
      await disconnectRemoved(notifier, request.log, [deviceId]);
      return { deviceId, droppedCaucusIds };
    },
  };
}
