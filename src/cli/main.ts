import { exitQuietlyOnClosedPipe } from "./closed-pipe.js";
import { main } from "./run.js";

exitQuietlyOnClosedPipe(process.stdout, process.stderr);
const exitCode = await main(process.argv);
// `serve` and `watch` keep running on their own; everything else exits with its code.
if (exitCode !== 0) process.exit(exitCode);
