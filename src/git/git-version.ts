import { TerminalError } from '../errors.ts';
import { runGitCli } from './git-cli.ts';

/** Oldest git Omoi works with: fetches use negative refspecs (2.29) so one ticket's fetch never moves another's branches. */
export const MIN_GIT_VERSION = [2, 29] as const;

/** `[major, minor]` of a `git --version` line (`git version 2.39.5`), or `null`. */
export function parseGitVersion(line: string): [number, number] | null {
  const m = /git version (\d+)\.(\d+)/.exec(line);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/**
 * Checks at node start that the `git` on PATH is new enough; `TerminalError('git_unavailable')`
 * naming what was found and what is needed, so a node never starts to fail every second ticket.
 */
export async function checkGitVersion(): Promise<string> {
  const { code, stdout, stderr } = await runGitCli(['--version']).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
  const version = parseGitVersion(stdout);
  const [major, minor] = MIN_GIT_VERSION;
  if (code !== 0 || !version) throw new TerminalError('git_unavailable', `git is required (${major}.${minor} or newer) but could not be run: ${stderr.trim() || stdout.trim()}`);
  if (version[0] < major || (version[0] === major && version[1] < minor)) {
    throw new TerminalError('git_unavailable', `git ${major}.${minor} or newer is required, found ${stdout.trim()} (apt-get install git, or a newer distribution)`);
  }
  return stdout.trim();
}
