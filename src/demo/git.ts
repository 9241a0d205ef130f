import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RetryableError } from '../errors.ts';

const execFileAsync = promisify(execFile);

/**
 * Runs the `git` CLI in `cwd` with the process environment plus `env`, and returns its trimmed
 * stdout. Git's repository-selecting variables are dropped (an outer git hook must not redirect
 * us) and prompts disabled. Throws `RetryableError('demo_git')` naming the command and git's
 * own message when git fails or is missing.
 */
export async function git(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const full: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', ...env };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) delete full[name];
  try {
    const { stdout } = await execFileAsync('git', args, { cwd, env: full, maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new RetryableError('demo_git', `git ${args.join(' ')} failed in ${cwd}: ${e.stderr?.trim() || e.message}`);
  }
}
