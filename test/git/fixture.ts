// Real git repositories in temp dirs for the git and sandbox tests (not a test file itself).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Fixture', GIT_AUTHOR_EMAIL: 'fixture@example.com',
  GIT_COMMITTER_NAME: 'Fixture', GIT_COMMITTER_EMAIL: 'fixture@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
};

/** Runs git in `cwd` and returns its trimmed stdout; throws on a non-zero exit. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'commit.gpgsign=false', ...args], { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A temp directory removed at the end of the test. */
export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'omoi-git-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A working repository (branch `main`) with helpers to write files and commit. */
export class SourceRepo {
  constructor(readonly dir: string) {}

  static create(parent: string, files: Record<string, string> = { 'README.md': 'hello\n' }): SourceRepo {
    const dir = path.join(parent, 'source');
    mkdirSync(dir, { recursive: true });
    git(dir, 'init', '-q', '-b', 'main');
    const repo = new SourceRepo(dir);
    repo.commit('base', files);
    return repo;
  }

  /** Writes `files` (null deletes), commits on the current branch, returns the sha. */
  commit(message: string, files: Record<string, string | null>): string {
    for (const [file, content] of Object.entries(files)) {
      const full = path.join(this.dir, file);
      if (content === null) {
        rmSync(full, { force: true });
      } else {
        mkdirSync(path.dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    git(this.dir, 'add', '-A');
    git(this.dir, 'commit', '-q', '--allow-empty', '-m', message);
    return git(this.dir, 'rev-parse', 'HEAD');
  }

  /** Creates (or switches to) `branch` starting at `from`. */
  checkout(branch: string, from?: string): void {
    if (from) git(this.dir, 'checkout', '-q', '-B', branch, from);
    else git(this.dir, 'checkout', '-q', branch);
  }
}

/** `count` numbered lines, with overrides for some line numbers (1-based). */
export function numberedLines(count: number, overrides: Record<number, string> = {}): string {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) lines.push(overrides[i] ?? `line ${i}`);
  return lines.join('\n') + '\n';
}

export const WHO = { name: 'Omoi', email: 'omoi@example.com', time: new Date('2024-01-02T03:04:05Z') };
