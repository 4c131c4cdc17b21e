import { createConfig, lintFromString } from "@redocly/openapi-core";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { routes } from "../protocol/index.js";
import { createApp } from "./app.js";
import { openSqliteStorage } from "./storage/sqlite/sqlite-storage.js";
import type { Storage } from "./storage/storage.js";

let storage: Storage;
let app: FastifyInstance;
let served: string;

beforeAll(async () => {
  storage = await openSqliteStorage({ inMemory: true });
  app = createApp(storage, { logger: false });
  const res = await app.inject({ method: "GET", url: "/openapi.json", headers: { host: "relay.test:7700" } });
  served = res.body;
});
afterAll(async () => {
  await app.close();
  await storage.close();
});

/** Redocly's `recommended` ruleset, as `redocly lint` applies it by default. */
async function lint(document: string) {
  const config = await createConfig({ extends: ["recommended"] });
  const problems = await lintFromString({ source: document, absoluteRef: "openapi.json", config });
  return problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? ""}`);
}

describe("the served OpenAPI document", () => {
  it("passes Redocly's recommended rules with no error and no warning", async () => {
    expect(await lint(served)).toEqual([]);
  });

  it("is held to those rules: the linter reports what a generator would trip on", async () => {
    const doc = JSON.parse(served) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- arbitrary JSON
    delete doc.servers;
    delete doc.paths["/v1/me"].get.operationId;
    doc.components.schemas.Unused = { type: "string" };
    const problems = await lint(JSON.stringify(doc));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^error no-empty-servers/),
        expect.stringMatching(/^warn operation-operationId: .* at #\/paths\/~1v1~1me\/get/),
        expect.stringMatching(/^warn no-unused-components: .*Unused/),
      ]),
    );
  });

  it("names every operation by its route-table key and the server it was served from", () => {
    const doc = JSON.parse(served) as {
      servers: { url: string }[];
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(ids.sort()).toEqual(Object.keys(routes).sort());
    expect(doc.servers.map((s) => s.url)).toEqual(["http://relay.test:7700"]);
  });

  it("documents request bodies correctly: their schemas read the same on the way in and out", () => {
    // Components are written as zod's output; a default or transform in a body would make the
    // documented request differ from what a client may send.
    for (const [operationId, spec] of Object.entries(routes)) {
      if (!("body" in spec)) continue;
      const as = (io: "input" | "output") => z.toJSONSchema(spec.body, { io, unrepresentable: "any" });
      expect(as("input"), operationId).toEqual(as("output"));
    }
  });
});
