import { readFile } from 'node:fs/promises';
import type { Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Usage } from '../protocol/index.ts';

export type AttemptUsage = Static<typeof Usage>;

const check = TypeCompiler.Compile(Usage);

/**
 * The usage a local attempt reports: the `usage` object of its result file (`{result_file}`,
 * `OMOI_RESULT_FILE`) when there is one, with the wall time the executor measured (always
 * there, and preferred to the file's). A `usage` that does not match the protocol's schema is
 * ignored and named in `warning`; a missing or unreadable result file is no usage, never an error.
 *
 * `result`: the result file as the task's execution parsed it (a successful attempt); absent,
 * the file is read here (a failed attempt's agent may have written it before failing).
 */
export async function attemptUsage(wallMs: number, from: { result?: unknown; resultFile?: string }): Promise<{ usage: AttemptUsage; warning?: string }> {
  const measured = { wall_ms: Math.max(0, Math.round(wallMs)) };
  let result = from.result;
  if (result === undefined || result === null) {
    if (!from.resultFile) return { usage: measured };
    try {
      result = JSON.parse(await readFile(from.resultFile, 'utf8'));
    } catch {
      return { usage: measured }; // none written, or not JSON: a failed attempt's file is not its problem to report
    }
  }
  const reported = result && typeof result === 'object' ? (result as Record<string, unknown>).usage : undefined;
  if (reported === undefined) return { usage: measured };
  if (!check.Check(reported)) {
    const first = check.Errors(reported).First();
    return { usage: measured, warning: `usage in the result file ignored: ${first ? `${first.path || '/'} ${first.message}` : 'not an object'} (expected model, input_tokens, output_tokens, cost_usd, wall_ms)` };
  }
  return { usage: { ...reported, ...measured } };
}
