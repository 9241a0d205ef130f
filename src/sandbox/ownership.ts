import { globMatcher } from '../ownership/index.ts';

/**
 * The changed files a task does not own: those matched by none of its `owns` globs (the same glob
 * dialect as the claims: picomatch with dotfiles and POSIX classes, `[!a]` negates). With no globs every changed file is a violation. Order kept.
 */
export function ownershipViolations(changedFiles: string[], owns: string[]): string[] {
  if (owns.length === 0) return [...changedFiles];
  const isOwned = globMatcher(owns);
  return changedFiles.filter((file) => !isOwned(file));
}
