import { existsSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { ServerError } from "./errors.js";

/**
 * The web console is a directory of static files built by Vite (vite.config.ts). The relay only
 * serves it: it imports no web code, and the console does all its crypto in the browser.
 * From src/server (tsx, vitest) and dist/server (built) alike, ../../dist/web is the repo's dist/web.
 */
export const defaultConsoleDir = fileURLToPath(new URL("../../dist/web", import.meta.url));

export const consoleBuilt = (dir: string): boolean => existsSync(join(dir, "index.html"));

/**
 * The console holds device keys and decrypted caucuses, so no script may run in it but its own
 * bundle (Vite's production build has no inline script), it talks to its own origin only
 * ('self' covers same-origin ws:/wss: in CSP Level 3), and no other site may frame it.
 */
export const consoleContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join("; ");

const securityHeaders: Record<string, string> = {
  "content-security-policy": consoleContentSecurityPolicy,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/**
 * Serves the built console at `/`, in its own scope (its routes are not API and carry no OpenAPI
 * doc). The page files at the top of the build get one route each, found at startup, and the
 * content-hashed assets one wildcard under /assets/: a catch-all at `/` would shadow the API's
 * own not-found and malformed-URL answers, so API routes keep their exact behaviour.
 * Without a build, `/` says so in JSON and the API works as before.
 */
export function registerConsole(app: FastifyInstance, dir: string): void {
  void app.register(async (scope) => {
    if (!consoleBuilt(dir)) {
      scope.get("/", () => {
        throw new ServerError(
          "not_found",
          "the web console is not built; run `npm run build`, then restart the server",
        );
      });
      return;
    }
    const assets = join(dir, "assets");
    const setHeaders = (res: { setHeader(name: string, value: string): unknown }, file: string) => {
      for (const [name, value] of Object.entries(securityHeaders)) res.setHeader(name, value);
      // Vite names assets by content hash, so they never change; a page must be revalidated.
      const hashed = file.startsWith(assets + sep);
      res.setHeader("cache-control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
    };
    const common = { cacheControl: false, dotfiles: "ignore", redirect: false, setHeaders } as const;
    await scope.register(fastifyStatic, {
      ...common,
      root: dir,
      wildcard: false,
      index: "index.html",
      globIgnore: ["assets/**"],
    });
    if (existsSync(assets))
      await scope.register(fastifyStatic, {
        ...common,
        root: assets,
        prefix: "/assets/",
        index: false,
        decorateReply: false,
      });
  });
}
