import { ConfigError, errorMessage, OmoiError } from '../errors.ts';

/** A failure the CLI reports as one line on stderr and an exit code (1 unless told). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Exit code of invalid configuration (as for a usage error): distinct from "it failed". */
export const EXIT_INVALID_CONFIG = 2;

/**
 * Turns any error into the one line the user sees and the exit code, never a stack trace:
 * `ConfigError` → `invalid configuration: <setting>: <problem>` (exit 2); `CliError` → its
 * message and code; anything else → its message (exit 1). The `[code]` suffix of the error
 * family is dropped for configuration errors, where the setting already says it all.
 */
export function describeFailure(err: unknown): { line: string; exitCode: number } {
  if (err instanceof ConfigError) {
    return { line: `invalid configuration: ${oneLine(err.message.replace(/ \[invalid_config\]$/, ''))}`, exitCode: EXIT_INVALID_CONFIG };
  }
  if (err instanceof CliError) return { line: oneLine(err.message), exitCode: err.exitCode };
  if (err instanceof OmoiError) return { line: oneLine(err.message), exitCode: 1 };
  return { line: oneLine(errorMessage(err)), exitCode: 1 };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim() || 'failed';
}
