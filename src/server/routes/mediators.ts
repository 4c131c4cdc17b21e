import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import { parse, registerMediatorRequest, registerMediatorResponse } from "../../protocol/index.js";
import { ed25519PublicKey } from "../ed25519.js";
import { ServerError } from "../errors.js";
import type { RouteContext } from "./context.js";

export function registerMediatorRoutes(app: FastifyInstance, { storage }: RouteContext): void {
  app.post(
    "/v1/mediators",
    {
      config: {
        doc: {
          summary: "Register a mediator device (open registration: a mediator account is a device)",
          auth: "none",
          body: registerMediatorRequest,
          responses: { 201: { description: "Registered", schema: registerMediatorResponse } },
        },
      },
    },
    async (request, reply) => {
      const body = parse(registerMediatorRequest, request.body, "body");
      if (!ed25519PublicKey(body.authPublicKey)) {
        throw new ServerError("invalid_request", "authPublicKey: not an Ed25519 public key");
      }
      await storage.createDevice({
        deviceId: body.deviceId,
        role: "mediator",
        authPublicKey: body.authPublicKey,
      });
      const response: z.infer<typeof registerMediatorResponse> = {
        deviceId: body.deviceId,
        role: "mediator",
      };
      return reply.code(201).send(response);
    },
  );
}
