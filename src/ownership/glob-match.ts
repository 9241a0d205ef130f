import picomatch from 'picomatch';
import { validateGlob } from './glob-intersection.ts';

/**
 * The picomatch options that define what an ownership glob means. `dot: true`: dotfiles are
 * files like any other. `posix: true`: `[!a]` negates, as in POSIX shells (without it,
 * picomatch reads `[!a]` as "`!` or `a`"). Anything that matches changed files against
 * claims must use these options, or `globMatcher`, so that checks agree with `globsIntersect`.
 */
export const GLOB_OPTIONS = Object.freeze({ dot: true, posix: true });

/**
 * A predicate telling whether a relative file path (with `/` separators) matches any of
 * `globs`. Throws `TerminalError` (`invalid_glob`) for a glob outside the claim dialect.
 * With no globs it matches nothing.
 */
export function globMatcher(globs: readonly string[]): (path: string) => boolean {
  for (const glob of globs) validateGlob(glob);
  const matchers = globs.map((glob) => picomatch(glob, GLOB_OPTIONS));
  return (path) => matchers.some((matches) => matches(path));
}
