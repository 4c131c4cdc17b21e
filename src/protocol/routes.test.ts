import { describe, expect, it } from "vitest";
import { fillPath, routes } from "./routes.js";

describe("the route table", () => {
  it("names each path parameter once in the template and once in the params schema", () => {
    for (const [operationId, spec] of Object.entries(routes)) {
      const inTemplate: string[] = [];
      fillPath(spec.path, (name) => (inTemplate.push(name), ""));
      const inSchema = "params" in spec ? Object.keys(spec.params.shape) : [];
      expect(inTemplate.sort(), operationId).toEqual(inSchema.sort());
    }
  });

  it("keys every operation by a camelCase operationId and gives each method and path one", () => {
    for (const operationId of Object.keys(routes)) expect(operationId).toMatch(/^[a-z][A-Za-z]*$/);
    const endpoints = Object.values(routes).map((r) => `${r.method} ${r.path}`);
    expect(new Set(endpoints).size).toBe(endpoints.length);
  });
});
