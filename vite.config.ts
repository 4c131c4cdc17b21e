import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

/**
 * The web console: src/web is the Vite root, built into dist/web, which `backchannel console`
 * serves at `/` on the user's machine (src/cli/console-host.ts; a relay only with `serve --console`). sdk-probe.html is a page for the browser tests
 * (test/web): it exposes the browser sdk so they can drive it without the UI.
 */
const path = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** Runs src/web/public/zod-jitless.js before the bundle on every page (see that file for why). */
const zodWithoutEval: Plugin = {
  name: "backchannel-zod-without-eval",
  transformIndexHtml: () => [{ tag: "script", attrs: { src: "/zod-jitless.js" }, injectTo: "head" }],
};

/**
 * Writes a .gz and a .br beside every text file of the build, once, at maximum compression, so the
 * console's server (src/server/console.ts, @fastify/static's preCompressed) sends the smallest one
 * the browser accepts without compressing on each request.
 */
const precompress: Plugin = {
  name: "backchannel-precompress",
  apply: "build",
  writeBundle(options) {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const file = join(dir, name);
        return statSync(file).isDirectory() ? files(file) : [file];
      });
    for (const file of files(options.dir!)) {
      if (!/\.(js|css|html|svg|json)$/.test(file)) continue;
      const raw = readFileSync(file);
      writeFileSync(`${file}.gz`, gzipSync(raw, { level: 9 }));
      writeFileSync(
        `${file}.br`,
        brotliCompressSync(raw, {
          params: {
            [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
            [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
          },
        }),
      );
    }
  },
};

export default defineConfig({
  root: path("./src/web"),
  base: "/",
  plugins: [react(), zodWithoutEval, precompress],
  resolve: {
    // The browser has WebSocket and WebCrypto: never bundle Node's `ws` or `crypto` (see the shims).
    alias: [
      { find: /^ws$/, replacement: path("./src/web/browser/ws-shim.ts") },
      { find: /^crypto$/, replacement: path("./src/web/browser/crypto-shim.ts") },
    ],
  },
  build: {
    outDir: path("./dist/web"),
    emptyOutDir: true,
    // Every browser new enough for WebCrypto Ed25519 (which the console needs) runs ES2022.
    target: "es2022",
    // No source maps: the console's server would publish them (megabytes, and the whole source).
    sourcemap: false,
    rolldownOptions: {
      input: {
        main: path("./src/web/index.html"),
        "sdk-probe": path("./src/web/sdk-probe.html"),
      },
    },
  },
});
