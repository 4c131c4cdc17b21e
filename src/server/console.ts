import { existsSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { consoleConfigPath, type ConsoleConfig } from "../protocol/index.js";
import { ServerError } from "./errors.js";

/**
 * The web console is a directory of static files built by Vite (vite.config.ts). Whoever serves
 * it — `backchannel console` on the user's machine, or a relay whose operator opted in — only
 * serves it: this module imports no web code, and the console does all its crypto in the browser.
 * From src/server (tsx, vitest) and dist/server (built) alike, ../../dist/web is the package's
 * dist/web, wherever it is installed.
 */
export const defaultConsoleDir = fileURLToPath(new URL("../../dist/web", import.meta.url));

export const consoleBuilt = (dir: string): boolean => existsSync(join(dir, "index.html"));

/**
 * The console holds device keys and decrypted caucuses, so no script may run in it but its own
 * bundle (Vite's production build has no inline script), it talks to its own origin and to its
 * relay only ('self' covers same-origin ws:/wss: in CSP Level 3; a relay on another origin is
 * named twice, for HTTP and for its push socket), and no other site may frame it. Images may also
 * come from blob: URLs: the console's preview of an attached image it decrypted itself (blob: URLs
 * are made only by this origin's own script); nothing is framed, a PDF opens in its own tab.
 */
export function consoleContentSecurityPolicy(relayUrl?: string): string {
  const relay = relayUrl === undefined ? [] : relayOrigins(relayUrl);
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    ["connect-src 'self'", ...relay].join(" "),
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join("; ");
}

/** The relay's HTTP origin and its WebSocket origin: http → ws, https → wss. */
function relayOrigins(relayUrl: string): [string, string] {
  const { origin, protocol } = new URL(relayUrl);
  if (protocol !== "http:" && protocol !== "https:")
    throw new Error(`the relay URL must be http(s): ${relayUrl}`);
  return [origin, origin.replace(/^http/, "ws")];
}

export interface ConsoleOptions {
  /** The built console (dist/web). */
  dir: string;
  /**
   * The relay the console talks to, cross-origin; absent when the relay itself serves the
   * console, which the console then says on screen.
   */
  relayUrl?: string;
}

/**
 * Serves the built console at `/`, in its own scope (its routes are not API and carry no OpenAPI
 * doc), and its settings at /config.json. The page files at the top of the build get one route
 * each, found at startup, and the content-hashed assets one wildcard under /assets/: a catch-all
 * at `/` would shadow the API's own not-found and malformed-URL answers, so API routes keep their
 * exact behaviour. Without a build, `/` says so in JSON.
 */
export function registerConsole(app: FastifyInstance, { dir, relayUrl }: ConsoleOptions): void {
  const headers: Record<string, string> = {
    "content-security-policy": consoleContentSecurityPolicy(relayUrl),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
  };
  const config: ConsoleConfig = relayUrl === undefined ? {} : { relayUrl: new URL(relayUrl).origin };
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
    scope.get(consoleConfigPath, (_request, reply) =>
      reply.headers({ ...headers, "cache-control": "no-cache" }).send(config),
    );
    const assets = join(dir, "assets");
    const setHeaders = (res: { setHeader(name: string, value: string): unknown }, file: string) => {
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      // Vite names assets by content hash, so they never change; a page must be revalidated.
      const hashed = file.startsWith(assets + sep);
      res.setHeader("cache-control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
      // The build wrote a .br and a .gz beside each text file; which one is sent depends on it.
      res.setHeader("vary", "accept-encoding");
    };
    // preCompressed: the smallest encoding the browser accepts, from the files the build wrote.
    // Never a source map, should one be left in the directory: it would publish the source.
    const common = {
      cacheControl: false,
      dotfiles: "ignore",
      redirect: false,
      setHeaders,
      preCompressed: true,
      allowedPath: (pathname: string) => !pathname.endsWith(".map"),
    } as const;
    await scope.register(fastifyStatic, {
      ...common,
      root: dir,
      wildcard: false,
      // An array: with preCompressed, @fastify/static finds a directory's index only in one.
      index: ["index.html"],
      globIgnore: ["assets/**", "**/*.map", "**/*.gz", "**/*.br"],
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
