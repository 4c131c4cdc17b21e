import { z } from "zod";
import * as wire from "../protocol/wire.js";

export interface RouteDoc {
  summary: string;
  /** "mediator": a bearer token of a mediator device (a party device gets 403). */
  auth: "none" | "bearer" | "mediator";
  body?: z.ZodType;
  query?: z.ZodType;
  /** Success responses by status; error responses are the same everywhere and added for all. */
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  /** Extra prose, e.g. the frames a WebSocket route speaks. */
  description?: string;
}

export interface DocumentedRoute {
  method: string;
  url: string;
  doc: RouteDoc;
}

type JsonSchema = Record<string, unknown>;

/** Every zod schema exported by wire.ts is a component, named after its export. */
const componentNames = new Map<z.ZodType, string>(
  Object.entries(wire as Record<string, unknown>).flatMap(([name, value]) =>
    value instanceof z.ZodType ? [[value, name.charAt(0).toUpperCase() + name.slice(1)] as const] : [],
  ),
);

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" });
  return rest;
}

function schemaRef(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const name = componentNames.get(schema);
  return name ? { $ref: `#/components/schemas/${name}` } : jsonSchema(schema, io);
}

const json = (schema: JsonSchema) => ({ "application/json": { schema } });

function parameters(route: DocumentedRoute): JsonSchema[] {
  const path = [...route.url.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
    name: m[1],
    in: "path",
    required: true,
    schema: { type: "string", format: "uuid" },
  }));
  const query: JsonSchema[] = [];
  if (route.doc.query) {
    const q = jsonSchema(route.doc.query, "input") as {
      properties?: Record<string, JsonSchema>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      query.push({ name, in: "query", required: q.required?.includes(name) ?? false, schema });
    }
  }
  return [...path, ...query];
}

function operation(route: DocumentedRoute): JsonSchema {
  const { doc } = route;
  const responses: Record<string, JsonSchema> = {};
  for (const [status, r] of Object.entries(doc.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.schema ? { content: json(schemaRef(r.schema, "output")) } : {}),
    };
  }
  const error = { content: json(schemaRef(wire.errorResponse, "output")) };
  responses["4XX"] = { description: "Rejected: `error` is a stable code", ...error };
  responses["500"] = { description: "Internal error (no details)", ...error };
  const params = parameters(route);
  return {
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    security: doc.auth === "none" ? [] : [{ bearer: [] }],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(doc.body ? { requestBody: { required: true, content: json(schemaRef(doc.body, "input")) } } : {}),
    responses,
  };
}

/** OpenAPI 3.1 for the routes given, with bodies generated from the wire.ts zod schemas. */
export function buildOpenApi(routes: readonly DocumentedRoute[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, "{$1}");
    (paths[path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  const schemas: Record<string, JsonSchema> = {};
  for (const [schema, name] of componentNames) schemas[name] = jsonSchema(schema, "output");
  return {
    openapi: "3.1.0",
    info: {
      title: "Backchannel relay",
      version,
      description:
        "Untrusted relay: stores and relays MLS ciphertext for caucuses. Bytes are base64url. " +
        'Every rejection is `{ "error": "<stable code>", "message": "…" }`.',
    },
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
  };
}
