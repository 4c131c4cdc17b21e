import { createInterface } from "node:readline";
import { startServer } from "../src/server/start-server.js";

/** The relay side of relay-process.ts: prints its URL, answers "cpu", exits when stdin closes. */
const server = await startServer({ port: 0, dataDir: process.argv[2]!, logger: false });
process.stdout.write(`${server.url}\n`);
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line === "cpu") {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${(user + system) / 1000}\n`);
  }
});
lines.on("close", () => {
  void server.close().then(() => process.exit(0));
});
