/** `npm run docs`: regenerates docs/protocol.md and docs/openapi.json (the same as `omoi docs`). */
import { runDocs } from './commands/docs.ts';

process.stdout.write(await runDocs() + '\n');
