/** Helpers shared by the DAG benchmarks: SQL, polling, throwaway git repositories. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { OmoiNode } from '../src/bootstrap.ts';

const execFileAsync = promisify(execFile);

export type Row = Record<string, any>;

export function sql(node: OmoiNode, query: string, params: unknown[] = []): Promise<Row[]> {
  return node.db.em().getConnection().execute(query, params) as Promise<Row[]>;
}

/** Runs `git` in `dir`; resolves with trimmed stdout, rejects with git's stderr. */
export async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('git', args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** A git repository (branch `main`, one commit with `files`) in a new dir under `parent`. */
export async function makeRepo(parent: string, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(parent, 'repo-'));
  await git(dir, 'init', '--quiet', '--initial-branch=main');
  await git(dir, 'config', 'user.name', 'Omoi Bench');
  await git(dir, 'config', 'user.email', 'bench@omoi.invalid');
  await git(dir, 'config', 'commit.gpgsign', 'false');
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content);
  }
  await git(dir, 'add', '--all');
  await git(dir, 'commit', '--quiet', '--allow-empty', '-m', 'base');
  return dir;
}

/** Polls `check` every `intervalMs` until it returns true; throws naming `what` on timeout. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const tmpRoot = () => mkdtemp(path.join(os.tmpdir(), 'omoi-bench-dag-'));
