import { z } from "zod";
import {
  errorResponse,
  pushSocket,
  routeTags,
  routes,
  type OperationId,
  type RouteSpec,
} from "../protocol/index.js";
import * as wire from "../protocol/wire.js";

type JsonSchema = Record<string, unknown>;

const componentPath = "#/components/schemas/";

/**
 * Every zod schema exported by wire.ts may be a component, named after its export; the document
 * keeps only those its operations reach, so generators in other languages get no dead types.
 * Registering them all lets zod write a `$ref` wherever one nests in another (StoredEvent in
 * ListEventsResponse), instead of inlining a copy.
 */
const registry = z.registry<{ id: string }>();
for (const [name, value] of Object.entries(wire)) {
  if (value instanceof z.ZodType) registry.add(value, { id: name.charAt(0).toUpperCase() + name.slice(1) });
}

const ref = (schema: z.ZodType): JsonSchema => {
  const id = registry.get(schema)?.id;
  if (!id) throw new Error("a route's body or response schema must be exported by protocol/wire.ts");
  return { $ref: `${componentPath}${id}` };
};

/** zod's JSON Schema minus the keys that describe a standalone file, not an embedded schema. */
function embedded(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  return rest;
}

const json = (schema: JsonSchema) => ({ "application/json": { schema } });

/** Path and query parameters, one per property of the route's params and query schemas. */
function parameters(spec: RouteSpec): JsonSchema[] {
  const from = (where: "path" | "query", schema: z.ZodObject | undefined): JsonSchema[] => {
    if (!schema) return [];
    // Query strings are coerced and defaulted on the way in: document what a client may send.
    const { properties = {}, required = [] } = z.toJSONSchema(schema, { io: "input" }) as {
      properties?: Record<string, JsonSchema>;
      required?: string[];
    };
    return Object.entries(properties).map(([name, s]) => ({
      name,
      in: where,
      required: where === "path" || required.includes(name),
      schema: s,
    }));
  };
  return [...from("path", spec.params), ...from("query", spec.query)];
}

/** An attachment blob's bytes (routes with `stream`). */
const bytes = {
  "application/octet-stream": { schema: { type: "string", contentMediaType: "application/octet-stream" } },
};

const authNote: Record<RouteSpec["auth"], string> = {
  none: "",
  bearer: "",
  mediator: "Mediator devices only: a party device gets 403 forbidden.",
};

function operation(operationId: OperationId, spec: RouteSpec): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const { status, description } of spec.statuses) {
    responses[status] = {
      description,
      content: spec.stream === "download" ? bytes : json(ref(spec.response)),
    };
  }
  const error = { content: json(ref(errorResponse)) };
  responses["4XX"] = { description: "Rejected: `error` is a stable code", ...error };
  responses["429"] = {
    description:
      "rate_limited: over one of the relay's limits; `retry_after` (and the Retry-After header) says in how many seconds to try again",
    headers: {
      "Retry-After": {
        description: "Seconds to wait, as in retry_after",
        schema: { type: "integer", minimum: 1 },
      },
    },
    ...error,
  };
  responses["500"] = { description: "Internal error (no details)", ...error };
  responses["503"] = { description: "`unavailable`: this relay node is shutting down; try again", ...error };
  const description = [spec.description, authNote[spec.auth]].filter(Boolean).join("\n\n");
  const params = parameters(spec);
  return {
    operationId,
    summary: spec.summary,
    ...(description ? { description } : {}),
    tags: [spec.tag],
    security: spec.auth === "none" ? [] : [{ bearer: [] }],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(spec.body ? { requestBody: { required: true, content: json(ref(spec.body)) } } : {}),
    ...(spec.stream === "upload" ? { requestBody: { required: true, content: bytes } } : {}),
    responses,
  };
}

/** The component names a JSON value refers to. */
const refsIn = (value: unknown): string[] =>
  [...JSON.stringify(value).matchAll(/"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);

/** The components the paths reach, directly or through other components, and no others. */
function reachableComponents(paths: unknown): Record<string, JsonSchema> {
  const all = z.toJSONSchema(registry, {
    io: "output",
    unrepresentable: "any",
    uri: (id) => `${componentPath}${id}`,
  }).schemas;
  const kept: Record<string, JsonSchema> = {};
  const queue = refsIn(paths);
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    if (kept[name] || !all[name]) continue;
    kept[name] = embedded(all[name] as JsonSchema);
    queue.push(...refsIn(kept[name]));
  }
  return Object.fromEntries(Object.entries(kept).sort(([a], [b]) => a.localeCompare(b)));
}

export interface OpenApiDocument extends JsonSchema {
  openapi: string;
}

/** The served document without `servers`, which depends on the request (see routes/relay.ts). */
export function buildOpenApi(version: string): OpenApiDocument {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const [operationId, spec] of Object.entries(routes) as [OperationId, RouteSpec][]) {
    (paths[spec.path] ??= {})[spec.method.toLowerCase()] = operation(operationId, spec);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Backchannel relay",
      version,
      description:
        "Untrusted relay: stores and relays MLS ciphertext for caucuses. Bytes are base64url. " +
        'Every rejection is `{ "error": "<stable code>", "message": "…" }`; a 429 (rate_limited) ' +
        "adds `retry_after`, in seconds. An application message past the caucus's or the channel's " +
        "quota of stored ciphertext gets 413 quota_exceeded.\n\n" +
        `## ${pushSocket.summary}\n\n\`GET ${pushSocket.path}\` upgrades to a WebSocket (OpenAPI ` +
        `cannot describe its frames). ${pushSocket.description}`,
      // No licence has been chosen: the code is not licensed for use by others.
      license: { name: "Proprietary (no licence granted)", identifier: "LicenseRef-Proprietary" },
    },
    tags: Object.entries(routeTags).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      schemas: reachableComponents(paths),
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "A token from POST /v1/auth/session",
        },
      },
    },
  };
}
