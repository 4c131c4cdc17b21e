import { describe, expect, test } from "vitest";
import { ESLint } from "eslint";
import { resolve } from "node:path";

/**
 * The dependency direction of docs/design.md is enforced by lint; these prove the rules bite by linting
 * small snippets as if they lived in each layer (the text is linted under an existing file's name; nothing is written).
 */
const root = resolve(import.meta.dirname, "..");
const eslint = new ESLint({ cwd: root });

async function ruleIds(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(root, file) });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe("architecture rules", () => {
  test.each([
    ["src/server/app.ts", 'import { Device } from "../sdk/device.js";\nexport const d = Device;\n'],
    [
      "src/server/app.ts",
      'import { CaucusGroup } from "../crypto/mls/caucus-group.js";\nexport const g = CaucusGroup;\n',
    ],
    ["src/server/app.ts", 'import { main } from "../cli/run.js";\nexport const m = main;\n'],
    ["src/protocol/limits.ts", 'import { Device } from "../sdk/device.js";\nexport const d = Device;\n'],
    ["src/crypto/identity.ts", 'import { Device } from "../sdk/device.js";\nexport const d = Device;\n'],
    [
      "src/sdk/genesis.ts",
      'import { startServer } from "../server/start-server.js";\nexport const s = startServer;\n',
    ],
    [
      "src/web/sdk-probe.ts",
      'import { startServer } from "../server/start-server.js";\nexport const s = startServer;\n',
    ],
    [
      "src/web/sdk-probe.ts",
      'import { nodePlatform } from "../sdk/node.js";\nexport const n = nodePlatform;\n',
    ],
    // The sdk's users see its surface only; the console gets crypto through the sdk.
    [
      "src/web/sdk-probe.ts",
      'import { DeviceCore } from "../sdk/core/device-core.js";\nexport const d = DeviceCore;\n',
    ],
    [
      "src/cli/render.ts",
      'import { deviceState } from "../sdk/device-state.js";\nexport const d = deviceState;\n',
    ],
    [
      "src/cli/render.ts",
      'import { browserPlatform } from "../sdk/browser.js";\nexport const b = browserPlatform;\n',
    ],
    [
      "src/web/sdk-probe.ts",
      'import { verificationCode } from "../crypto/verification-code.js";\nexport const v = verificationCode;\n',
    ],
    // Node-only crypto is installed by sdk/node.ts alone, never by shared code.
    [
      "src/crypto/mls/suite.ts",
      'import { nodeCryptoBackend } from "../node/backend.js";\nexport const b = nodeCryptoBackend;\n',
    ],
    [
      "src/sdk/core/caucus.ts",
      'import { nodeEd25519 } from "../../crypto/node/ed25519.js";\nexport const e = nodeEd25519;\n',
    ],
    [
      "src/sdk/browser.ts",
      'import { nodeCryptoBackend } from "../crypto/node/backend.js";\nexport const b = nodeCryptoBackend;\n',
    ],
  ])("%s may not import %s", async (file, code) => {
    expect(await ruleIds(file, code)).toContain("import-x/no-restricted-paths");
  });

  test("the relay may not use MLS or client key libraries directly", async () => {
    expect(
      await ruleIds("src/server/app.ts", 'import * as m from "ts-mls";\nexport const x = m;\n'),
    ).toContain("no-restricted-imports");
  });

  test("protocol stays pure: no I/O modules", async () => {
    expect(
      await ruleIds(
        "src/protocol/limits.ts",
        'import { readFileSync } from "node:fs";\nexport const r = readFileSync;\n',
      ),
    ).toContain("no-restricted-imports");
  });

  test("the web console uses no Node built-ins", async () => {
    expect(
      await ruleIds(
        "src/web/sdk-probe.ts",
        'import { readFileSync } from "node:fs";\nexport const r = readFileSync;\n',
      ),
    ).toContain("no-restricted-imports");
  });

  test("the sdk's surface is open to its users", async () => {
    for (const [file, entry] of [
      ["src/cli/render.ts", "node"],
      ["src/web/sdk-probe.ts", "browser"],
    ] as const) {
      for (const mod of ["index", entry]) {
        const ids = await ruleIds(file, `import * as s from "../sdk/${mod}.js";\nexport const x = s;\n`);
        expect(ids).not.toContain("import-x/no-restricted-paths");
      }
    }
  });

  test("sdk/node.ts, and Node-only crypto itself, may use Node-only crypto", async () => {
    for (const [file, from] of [
      ["src/sdk/node.ts", "../crypto/node/backend.js"],
      ["src/crypto/node/backend.ts", "./ed25519.js"],
    ]) {
      const ids = await ruleIds(file!, `import * as n from "${from}";\nexport const x = n;\n`);
      expect(ids).not.toContain("import-x/no-restricted-paths");
    }
  });

  test("allowed directions pass", async () => {
    for (const file of ["src/sdk/genesis.ts", "src/server/app.ts", "src/crypto/identity.ts"]) {
      const ids = await ruleIds(
        file,
        'import { limits } from "../protocol/limits.js";\nexport const l = limits;\n',
      );
      expect(ids).not.toContain("import-x/no-restricted-paths");
      expect(ids).not.toContain("no-restricted-imports");
    }
  });
});
