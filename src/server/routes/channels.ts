import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import {
  createCaucusRequest,
  createCaucusResponse,
  createChannelRequest,
  createChannelResponse,
  listChannelsResponse,
  parse,
} from "../../protocol/index.js";
import { mediatorOf } from "../auth.js";
import { notFound } from "../errors.js";
import { channelParams, type RouteContext } from "./context.js";
import { publishAll } from "./publish.js";

export function registerChannelRoutes(
  app: FastifyInstance,
  { storage, notifier, authenticate }: RouteContext,
): void {
  app.post(
    "/v1/channels",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "Open a channel mediated by this device",
          auth: "mediator",
          body: createChannelRequest,
          responses: { 201: { description: "Created", schema: createChannelResponse } },
        },
      },
    },
    async (request, reply) => {
      const mediator = mediatorOf(request);
      parse(createChannelRequest, request.body, "body");
      const channelId = randomUUID();
      // Every device of this mediator mediates the channel; the others join each caucus by commit.
      const others = (await storage.listMediatorDevices(mediator.deviceId)).filter(
        (d) => d !== mediator.deviceId,
      );
      await storage.createChannel({ channelId, mediatorDeviceIds: [mediator.deviceId, ...others] });
      const response: z.infer<typeof createChannelResponse> = { channelId };
      return reply.code(201).send(response);
    },
  );

  app.get(
    "/v1/channels",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "Channels this device mediates, with their caucuses",
          auth: "mediator",
          responses: { 200: { description: "Channels", schema: listChannelsResponse } },
        },
      },
    },
    async (request) => {
      const mediator = mediatorOf(request);
      const channels = await storage.listChannels(mediator.deviceId);
      const response: z.infer<typeof listChannelsResponse> = {
        channels: channels.map((c) => ({ channelId: c.channelId, caucusIds: c.caucusIds })),
      };
      return response;
    },
  );

  app.post(
    "/v1/channels/:channelId/caucuses",
    {
      preHandler: authenticate,
      config: {
        doc: {
          summary: "Open a caucus in a channel; this device is a member from seq 1",
          description:
            "The channel's other mediator devices become pending members: each uploads a key package " +
            "(PUT /v1/caucuses/{caucusId}/key-package) and a joined mediator device adds it by commit.",
          auth: "mediator",
          body: createCaucusRequest,
          responses: { 201: { description: "Created", schema: createCaucusResponse } },
        },
      },
    },
    async (request, reply) => {
      const mediator = mediatorOf(request);
      const { channelId } = parse(channelParams, request.params, "path");
      parse(createCaucusRequest, request.body, "body");
      const channel = await storage.getChannel(channelId);
      if (!channel?.mediatorDeviceIds.includes(mediator.deviceId)) throw notFound();
      const caucusId = randomUUID();
      await storage.createCaucus({ caucusId, channelId, creatorDeviceId: mediator.deviceId });
      await publishAll(
        notifier,
        request.log,
        channel.mediatorDeviceIds
          .filter((d) => d !== mediator.deviceId)
          .map((deviceId) => ({ deviceId, frame: { type: "membership", caucusId } })),
      );
      const response: z.infer<typeof createCaucusResponse> = { caucusId };
      return reply.code(201).send(response);
    },
  );
}
