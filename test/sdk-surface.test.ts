/**
 * The sdk's chosen surface, as a program that depends on this package sees it: three entry points
 * (package.json "exports"), each with its types; everything else — stored device state, MLS
 * state, the device core — stays out of reach.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { ensureCliBuilt, repoRoot } from "./helpers/cli.js";

/** Imports `specifier` by the package's own name, as a dependent would, and lists its exports. */
function exportsOf(specifier: string): { names?: string[]; error?: string } {
  const script = `import(${JSON.stringify(specifier)}).then(
    (m) => console.log(JSON.stringify({ names: Object.keys(m).sort() })),
    (e) => console.log(JSON.stringify({ error: e.code ?? e.message })),
  );`;
  return JSON.parse(
    execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: repoRoot,
      encoding: "utf8",
    }),
  ) as { names?: string[]; error?: string };
}

beforeAll(() => ensureCliBuilt());

describe("the sdk's surface", () => {
  test("backchannel/sdk: devices, snapshots' helpers, the disclosure policy, watch and errors", () => {
    const { names } = exportsOf("backchannel/sdk");
    for (const name of [
      "Mediator",
      "Party",
      "Device",
      "openDevice",
      "watch",
      "entryViews",
      "planConveyance",
      "receiptVerdict",
      "allowedModes",
      "disclosureWords",
      "ApiError",
      "SdkError",
      "TransportError",
      "MemoryStateStore",
    ])
      expect(names).toContain(name);
    // Storage schemas and the device core are not part of it.
    for (const name of ["deviceState", "caucusRecord", "DeviceCore", "Caucus", "applyEvents", "HttpClient"])
      expect(names).not.toContain(name);
  });

  test("backchannel/sdk/node and backchannel/sdk/browser: the runtime adapters, side by side", () => {
    expect(exportsOf("backchannel/sdk/node").names).toEqual([
      "FileStateStore",
      "fileSource",
      "nodePlatform",
      "saveAttachment",
    ]);
    expect(exportsOf("backchannel/sdk/browser").names).toEqual([
      "BrowserSupportError",
      "IdbStateStore",
      "assertSecureContext",
      "browserPlatform",
    ]);
  });

  test("nothing else can be imported", () => {
    for (const deep of [
      "backchannel/sdk/device-state",
      "backchannel/sdk/core/device-core",
      "backchannel/dist/sdk/index.js",
    ])
      expect(exportsOf(deep).error).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  test("every entry point ships its type declarations", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      exports: Record<string, string | { types: string; default: string }>;
    };
    for (const [entry, target] of Object.entries(pkg.exports)) {
      if (typeof target === "string") continue;
      expect(existsSync(join(repoRoot, target.types)), `${entry} → ${target.types}`).toBe(true);
      expect(existsSync(join(repoRoot, target.default)), `${entry} → ${target.default}`).toBe(true);
    }
  });
});
