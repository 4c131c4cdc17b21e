/**
 * Browser tests: a real `backchannel serve` (SQLite in a temp dir) serving the production build of
 * the web console, driven by Debian's Chromium through playwright-core. Each device gets its own
 * browser context (its own IndexedDB, cookies and storage), as separate people's browsers would.
 *
 *   const server = await startConsoleServer();      // builds dist/web first if stale
 *   const browser = await launchBrowser();
 *   const mediator = await openContext(browser);    // 1280x800, errors collected
 *   await mediator.page.goto(server.url);
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
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
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
    });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface ConsoleServer {
  /** http://127.0.0.1:port, no trailing slash; the console is at `${url}/`. */
  url: string;
  dataDir: string;
  server: RunningServer;
  /** Stops the server and deletes its data. */
  close(): Promise<void>;
}

/** A real relay on a free port, SQLite in a fresh temp dir, serving the (fresh) built console. */
export async function startConsoleServer(options: StartServerOptions = {}): Promise<ConsoleServer> {
  await ensureConsoleBuilt();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "backchannel-web-"));
  const server = await startServer({ logger: false, ...options, port: options.port ?? 0, dataDir });
  return {
    url: server.url,
    dataDir,
    server,
    async close() {
      await server.close();
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

/** An isolated context (a separate person's browser) at 1280x800 that records every error. */
export async function openContext(
  browser: Browser,
  viewport: { width: number; height: number } = { width: 1280, height: 800 },
): Promise<BrowserSession> {
  const context = await browser.newContext({ viewport });
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
