import { fileURLToPath } from 'node:url';
import { shellQuote } from './demo-ticket.ts';

/** The deterministic planning agent shipped beside this file (plain Node; see its header). */
export const SPEC_PLANNER_SCRIPT = fileURLToPath(new URL('./spec-planner.mjs', import.meta.url));

/** `node spec-planner.mjs` with this Node's absolute path: a spec's `planner_command` for demos and tests. */
export function demoPlannerCommand(): string {
  return `${shellQuote(process.execPath)} ${shellQuote(SPEC_PLANNER_SCRIPT)}`;
}
