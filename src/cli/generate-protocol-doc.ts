/** `npm run docs`: regenerates docs/protocol.md (the same as `omoi docs`). */
import { runDocs } from './commands/docs.ts';

process.stdout.write(runDocs() + '\n');
