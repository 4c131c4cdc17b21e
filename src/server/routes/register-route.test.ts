import { describe, expect, it } from "vitest";
import { pushSocket, routes } from "../../protocol/index.js";
import { createApp } from "../app.js";
import { openSqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { fastifyPath } from "./register-route.js";

describe("the relay and the route table cannot drift", () => {
  it("serves every operation of the table, and nothing else but the push socket and CORS", async () => {
    const storage = await openSqliteStorage({ inMemory: true });
    // No console: its static files are not API.
    const app = createApp(storage, { logger: false });
    const served: string[] = [];
    app.addHook("onRoute", (route) => {
      for (const method of [route.method].flat()) served.push(`${method} ${route.url}`);
    });
    try {
      await app.ready();
      const table = Object.values(routes).map((r) => `${r.method} ${fastifyPath(r.path)}`);
      // OPTIONS *: the CORS plugin's preflight answer (server/cors.ts).
      expect(served.sort()).toEqual([...table, `GET ${pushSocket.path}`, "OPTIONS *"].sort());
      for (const r of Object.values(routes))
        expect(app.hasRoute({ method: r.method, url: fastifyPath(r.path) }), r.path).toBe(true);
    } finally {
      await app.close();
      await storage.close();
    }
  });
});
