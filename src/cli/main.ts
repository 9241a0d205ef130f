/**
 * Entry point of the `omoi` command (`bin/omoi.mjs` loads it through tsx). Exits explicitly
 * once the command is done, so a forgotten handle can never keep a finished command alive.
 */
import { runCli } from './program.ts';

const code = await runCli(process.argv);
process.exit(code);
