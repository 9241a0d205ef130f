import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { RetryableError, TerminalError } from '../errors.ts';
import { runGitCli } from './git-cli.ts';

// Git bundles: how Omoi's commits leave one node's disk and reach another's (see
// src/git/commit-store.ts). A bundle is git's own transfer format: a short text header
// (prerequisite commits the receiver must have, and the heads it brings) and a pack.

const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/** Whether `commit` is a commit in the repository at `repoDir` (objects only; no ref needed). */
export async function hasCommit(repoDir: string, commit: string): Promise<boolean> {
  return (await runGitCli(['cat-file', '-e', `${commit}^{commit}`], repoDir)).code === 0;
}

/** Whether `ancestor` is `commit` or one of its ancestors (both commits of the repository at `repoDir`). */
export async function isAncestor(repoDir: string, ancestor: string, commit: string): Promise<boolean> {
  const r = await runGitCli(['merge-base', '--is-ancestor', ancestor, commit], repoDir);
  if (r.code > 1) throw new TerminalError('unknown_commit', `git merge-base --is-ancestor ${ancestor} ${commit}: ${r.stderr.trim().slice(0, 2000)}`);
  return r.code === 0;
}

/**
 * Writes to `file` a bundle of what `commit` adds over `exclude` (the objects reachable from
 * it and from none of them). Returns `false`, writing nothing, when it adds nothing (the
 * commit is one of them or an ancestor: a task that changed nothing). `git bundle create`
 * takes only refs, so the commit is named by a temporary ref of its own for the moment.
 */
export async function createBundle(repoDir: string, commit: string, exclude: readonly string[], file: string): Promise<boolean> {
  if (exclude.includes(commit)) return false;
  const ref = `refs/omoi-transfer/${commit}-${randomBytes(4).toString('hex')}`;
  const set = await runGitCli(['update-ref', ref, commit], repoDir);
  if (set.code !== 0) throw new TerminalError('commit_unavailable', `cannot bundle ${commit}: ${set.stderr.trim()}`, { commit });
  try {
    const made = await runGitCli(['bundle', 'create', '-q', file, ref, ...exclude.map((e) => `^${e}`)], repoDir);
    if (made.code !== 0 && /empty bundle/.test(made.stderr)) return false; // an ancestor of what it excludes
    if (made.code !== 0) throw new RetryableError('bundle_failed', `git bundle create ${commit}: ${made.stderr.trim()}`);
    return true;
  } finally {
    await runGitCli(['update-ref', '-d', ref], repoDir);
  }
}

/** A bundle's header: the commits it needs (`prerequisites`) and the heads it brings. */
export interface BundleHeader { prerequisites: string[]; heads: string[] }

/** Reads the header of the bundle in `file` (v2 or v3); `bad_bundle` if it is not one. */
export async function readBundleHeader(file: string): Promise<BundleHeader> {
  const fh = await open(file, 'r');
  let text: string;
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    text = buf.subarray(0, bytesRead).toString('latin1');
  } finally {
    await fh.close();
  }
  const end = text.indexOf('\n\n');
  const lines = (end < 0 ? '' : text.slice(0, end)).split('\n');
  if (!/^# v[23] git bundle$/.test(lines[0] ?? '')) throw new TerminalError('bad_bundle', 'not a git bundle (v2 or v3)');
  const header: BundleHeader = { prerequisites: [], heads: [] };
  for (const line of lines.slice(1)) {
    if (line.startsWith('@')) continue; // v3 capabilities
    const prerequisite = line.startsWith('-');
    const sha = (prerequisite ? line.slice(1) : line).split(' ')[0]!;
    if (!SHA.test(sha)) throw new TerminalError('bad_bundle', `bundle header line ${JSON.stringify(line.slice(0, 100))} is not a commit`);
    (prerequisite ? header.prerequisites : header.heads).push(sha);
  }
  return header;
}

/**
 * Adds the objects of the bundle in `file` to the repository at `repoDir` (`git bundle
 * unbundle`: `index-pack` verifies every object, and the prerequisites must be there). Writes
 * no ref. Throws `bad_bundle` when git refuses it.
 */
export async function unbundle(repoDir: string, file: string): Promise<void> {
  const r = await runGitCli(['bundle', 'unbundle', file], repoDir);
  if (r.code !== 0) throw new TerminalError('bad_bundle', `git bundle unbundle: ${r.stderr.trim().slice(0, 2000)}`);
}
