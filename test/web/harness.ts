/**
 * Browser tests: a real relay (`backchannel serve`, SQLite in a temp dir) that serves no console,
 * and the production build of the web console served apart from it as `backchannel console` does,
 * on another port (so every call the console makes to the relay is cross-origin), driven by
 * Debian's Chromium through playwright-core. Each device gets its own browser context (its own
 * IndexedDB, cookies and storage), as separate people's browsers would.
 *
 *   const server = await startConsoleServer();      // builds dist/web first if stale
 *   const browser = await launchBrowser();
 *   const mediator = await openContext(browser);    // 1280x800, errors collected
 *   await mediator.page.goto(server.url);           // the local console; server.relayUrl: the relay
 *   ...
 *   expect(mediator.errors).toEqual([]);
 *   await screenshot(mediator.page, "mediator-console");
 *
 * Pass page.waitForFunction a function, never a string: Playwright evaluates string predicates
 * with eval, which the console's CSP refuses (as it should).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from "playwright-core";
import { startConsoleHost, type RunningConsoleHost } from "../../src/cli/console-host.js";
import { loadTestLimits } from "../../src/server/limits/load-test-limits.js";
import { startServer, type RunningServer, type StartServerOptions } from "../../src/server/start-server.js";
import type { BackchannelProbe } from "../../src/web/sdk-probe.js";

export const repoRoot = resolve(import.meta.dirname, "..", "..");
export const consoleDir = join(repoRoot, "dist", "web");
export const screenshotDir = join(repoRoot, "artifacts", "screenshots");
export const chromiumPath = process.env.BACKCHANNEL_CHROMIUM ?? "/usr/bin/chromium";

// What the bundle is built from: a change in any of these makes dist/web stale.
const buildInputs = ["src/web", "src/sdk", "src/crypto", "src/protocol", "vite.config.ts", "package.json"];
const builtPages = ["index.html", "sdk-probe.html"];

function newestMtime(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newestMtime(join(path, name))), s.mtimeMs);
}

function consoleIsFresh(): boolean {
  if (!builtPages.every((p) => existsSync(join(consoleDir, p)))) return false;
  const builtAt = statSync(join(consoleDir, "index.html")).mtimeMs;
  return buildInputs.every((p) => newestMtime(join(repoRoot, p)) <= builtAt);
}

/**
 * Runs `vite build` when dist/web is missing or older than its sources. Test files run in
 * parallel processes, so a lock directory makes one build while the others wait: a second
 * build would empty dist/web under a server that is already serving it.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  if (consoleIsFresh()) return;
  const lock = join(repoRoot, "dist", ".web-build.lock");
  mkdirSync(join(repoRoot, "dist"), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      // A lock left by a killed run is taken over after the longest a build may take.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (consoleIsFresh()) return;
    await promisify(execFile)(process.execPath, [join(repoRoot, "node_modules/vite/bin/vite.js"), "build"], {
      cwd: repoRoot,
      maxBuffer: 16 * 2 ** 20,
      // vitest sets NODE_ENV=test, which would make this a development build (React's, several
      // times larger): the tests run the build `npm run build` makes.
      env: { ...process.env, NODE_ENV: "production" },
    });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface ConsoleServer {
  /** Where the console is, http://127.0.0.1:port, no trailing slash: the page is at `${url}/`. */
  url: string;
  /** The relay the console talks to: another origin, unless the relay serves the console. */
  relayUrl: string;
  dataDir: string;
  /** The relay. */
  server: RunningServer;
  /** The local console's server (`backchannel console`); none when the relay serves the console. */
  consoleHost?: RunningConsoleHost;
  /** Stops the relay (and the console's server, if started here) and deletes the relay's data. */
  close(): Promise<void>;
}

export interface ConsoleServerOptions extends StartServerOptions {
  /** The relay serves the console itself (`serve --console`) instead of a local console server. */
  servedByRelay?: boolean;
  /** A console server already running (for a relay restarted on the same port). */
  consoleHost?: RunningConsoleHost;
}

/**
 * A real relay on a free port, SQLite in a fresh temp dir, and the (fresh) built console served
 * the way `backchannel console` serves it, on another free port, told the relay's URL.
 */
export async function startConsoleServer(options: ConsoleServerOptions = {}): Promise<ConsoleServer> {
  await ensureConsoleBuilt();
  const { servedByRelay = false, consoleHost: running, ...serverOptions } = options;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "backchannel-web-"));
  const server = await startServer({
    logger: false,
    limits: loadTestLimits,
    // Open unless a test asks otherwise: the console tests register mediators freely.
    registration: "open",
    ...serverOptions,
    ...(servedByRelay ? { consoleDir } : {}),
    port: options.port ?? 0,
    dataDir,
  });
  const consoleHost = servedByRelay
    ? undefined
    : (running ?? (await startConsoleHost({ relayUrl: server.url, port: 0, dir: consoleDir })));
  return {
    url: consoleHost?.url ?? server.url,
    relayUrl: server.url,
    dataDir,
    server,
    ...(consoleHost ? { consoleHost } : {}),
    async close() {
      await server.close();
      if (consoleHost && !running) await consoleHost.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Headless Debian Chromium (.ci/run installs it); no network beyond what the tests open. */
export function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumPath))
    throw new Error(
      `no Chromium at ${chromiumPath}: apt-get install -y chromium (or set BACKCHANNEL_CHROMIUM)`,
    );
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export interface BrowserSession {
  context: BrowserContext;
  /** The context's first page. */
  page: Page;
  /** Console errors and uncaught page errors of every page in the context, as "url: text". */
  errors: string[];
  close(): Promise<void>;
}

/**
 * An isolated context (a separate person's browser) at 1280x800 that records every error;
 * `options` sets more of the person's browser (its time zone, its locale).
 */
export async function openContext(
  browser: Browser,
  viewport: { width: number; height: number } = { width: 1280, height: 800 },
  options: Omit<BrowserContextOptions, "viewport"> = {},
): Promise<BrowserSession> {
  const context = await browser.newContext({ ...options, viewport });
  const errors: string[] = [];
  const watchPage = (page: Page) => {
    page.on("console", (msg) => {
      // The location names the failing resource of a "Failed to load resource" message.
      if (msg.type() === "error") errors.push(`${msg.location().url || page.url()}: ${msg.text()}`);
    });
    page.on("pageerror", (err) => errors.push(`${page.url()}: uncaught ${err.name}: ${err.message}`));
  };
  context.on("page", watchPage);
  // Chromium logs some CSP refusals only to DevTools; this makes every one a console error.
  await context.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "(inline)"}`),
    ),
  );
  const page = await context.newPage();
  return { context, page, errors, close: () => context.close() };
}

/**
 * Saves a PNG to artifacts/screenshots/<name>.png (the README's screenshots come from here) and
 * returns its path. Full page by default; `{ fullPage: false }` shows what fits the viewport.
 */
export async function screenshot(
  page: Page,
  name: string,
  opts: { fullPage?: boolean } = {},
): Promise<string> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`screenshot name "${name}": use a-z, 0-9 and -`);
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: opts.fullPage ?? true });
  return path;
}

/** Opens the sdk probe page (src/web/sdk-probe.html) and waits until the bundle has loaded. */
export async function openProbe(page: Page, serverUrl: string): Promise<void> {
  await page.goto(`${serverUrl}/sdk-probe.html`);
  // A function, not a string: Playwright evals string predicates, which the page's CSP forbids.
  await page.waitForFunction(() => "backchannelProbe" in window);
}

/**
 * Runs `fn` in the page with the browser sdk (window.backchannelProbe) and a JSON argument.
 * `fn` is sent as source text, so it may use only its parameters and browser globals; it is
 * evaluated over the DevTools protocol, which the page's CSP does not restrict, while everything
 * it calls (the bundle, fetch, WebSocket, IndexedDB) runs under that CSP as the console does.
 */
export function inProbe<R, A = undefined>(
  page: Page,
  fn: (probe: BackchannelProbe, arg: A) => R | Promise<R>,
  arg?: A,
): Promise<R> {
  return page.evaluate<R>(
    `(${fn.toString()})(window.backchannelProbe, ${arg === undefined ? "undefined" : JSON.stringify(arg)})`,
  );
}
