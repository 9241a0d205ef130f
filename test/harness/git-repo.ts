import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './temp-dir.ts';
import type { TestContext } from './test-context.ts';

const execFileAsync = promisify(execFile);

/** Runs `git` in `dir` and returns its trimmed stdout; rejects with git's stderr on failure. */
export async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('git', args, { cwd: dir });
  return stdout.trim();
}

/**
 * A real git repository (git CLI) in a temp dir with `files` (paths relative to the root,
 * subdirectories created) in one initial commit on branch `main`. Deleted in `t.teardown`.
 */
export async function makeRepo(t: TestContext, files: Record<string, string>): Promise<{ dir: string; head: string }> {
  const dir = await tempDir(t, 'repo');
  await git(dir, 'init', '--quiet', '--initial-branch=main');
  // Local identity and no signing: commits must not depend on the machine's git config.
  await git(dir, 'config', 'user.name', 'Omoi Test');
  await git(dir, 'config', 'user.email', 'test@omoi.invalid');
  await git(dir, 'config', 'commit.gpgsign', 'false');
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(dir, file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  await git(dir, 'add', '--all');
  await git(dir, 'commit', '--quiet', '--allow-empty', '-m', 'initial commit');
  return { dir, head: await git(dir, 'rev-parse', 'HEAD') };
}
