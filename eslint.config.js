// @ts-check
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

/**
 * Dependencies point one way (docs/design.md): protocol <- crypto <- sdk <- {cli, web}; protocol <- server.
 * The relay must never import crypto, sdk or cli code (it would be a step towards holding keys),
 * and protocol must stay pure (no I/O), so it runs unchanged in the browser.
 */
const zones = [
  {
    target: "./src/server",
    from: ["./src/crypto", "./src/sdk", "./src/cli", "./src/web"],
    message: "the relay must not import client code",
  },
  {
    target: "./src/protocol",
    from: ["./src/crypto", "./src/sdk", "./src/cli", "./src/server", "./src/web"],
    message: "protocol is the bottom layer",
  },
  {
    target: "./src/crypto",
    from: ["./src/sdk", "./src/cli", "./src/server", "./src/web"],
    message: "crypto sits below sdk",
  },
  {
    target: "./src/sdk",
    from: ["./src/cli", "./src/server", "./src/web"],
    message: "the sdk must not import its users or the relay",
  },
  { target: "./src/cli", from: ["./src/web"], message: "cli and web are siblings" },
  {
    target: "./src/web",
    from: ["./src/server", "./src/cli", "./src/sdk/node.ts", "./src/crypto/node"],
    message: "the web console runs in the browser: no relay, cli or Node-only code",
  },
  // The sdk's users see its chosen surface (package.json "exports"), never its insides.
  {
    target: ["./src/cli", "./src/web"],
    from: "./src/sdk",
    except: ["./index.ts", "./node.ts", "./browser.ts"],
    message: "use the sdk's surface: sdk/index.ts, sdk/node.ts (cli) or sdk/browser.ts (web)",
  },
  { target: "./src/cli", from: "./src/sdk/browser.ts", message: "the cli runs on Node: use sdk/node.ts" },
  // Node-only crypto (node:crypto backends, the file keystore) is chosen by the Node adapter alone,
  // so shared crypto, the rest of the sdk and (through them) the console's bundle never reach it.
  {
    target: ["./src/crypto/!(node)/**", "./src/crypto/*.ts", "./src/sdk/**/!(node).ts"],
    from: "./src/crypto/node",
    message: "Node-only crypto is reached through sdk/node.ts, which installs it for Node",
  },
  {
    target: "./src/web",
    from: "./src/crypto",
    message: "the console gets its crypto through the sdk (sdk/browser.ts), never directly",
  },
];

const ioModules = [
  "fs",
  "net",
  "http",
  "https",
  "child_process",
  "dgram",
  "tls",
  "worker_threads",
  "crypto",
  "os",
  "path",
];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "artifacts/**", "bin/**", "eslint.config.js"] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { "import-x": importX },
    // Without a TypeScript-aware resolver, "../sdk/device.js" resolves to nothing and the zones
    // silently never match (test/architecture.test.ts proves they bite).
    settings: { "import-x/resolver-next": [createTypeScriptImportResolver()] },
    rules: {
      "import-x/no-restricted-paths": ["error", { zones }],
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src/protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: ioModules.flatMap((m) => [
            { name: m, message: "protocol is pure: no I/O" },
            { name: `node:${m}`, message: "protocol is pure: no I/O" },
          ]),
          patterns: [
            { group: ["better-sqlite3", "pg", "ws", "fastify", "pino"], message: "protocol is pure: no I/O" },
          ],
        },
      ],
    },
  },
  {
    // Vite would stub a Node built-in with an empty module that fails only at run time.
    files: ["src/web/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [...ioModules, "ws", "better-sqlite3", "fastify", "pino"].map((name) => ({
            name,
            message: "the web console runs in the browser",
          })),
          patterns: [{ group: ["node:*"], message: "the web console runs in the browser" }],
        },
      ],
    },
  },
  {
    files: ["src/server/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["ts-mls", "ts-mls/*", "@noble/curves*"],
              message: "the relay never touches MLS or client keys",
            },
          ],
        },
      ],
    },
  },
  {
    // Served verbatim as classic scripts (no TypeScript project to type-check them against).
    files: ["src/web/public/**/*.js"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Node module hooks a test preloads into a CLI process (`node --import`): plain JavaScript.
    files: ["test/helpers/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ["**/*.test.ts", "test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
