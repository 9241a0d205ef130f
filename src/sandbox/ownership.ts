import picomatch from 'picomatch';

/**
 * The changed files a task does not own: those matched by none of its `owns` globs (picomatch
 * semantics, dotfiles included). With no globs every changed file is a violation. Order kept.
 */
export function ownershipViolations(changedFiles: string[], owns: string[]): string[] {
  if (owns.length === 0) return [...changedFiles];
  const isOwned = picomatch(owns, { dot: true });
  return changedFiles.filter((file) => !isOwned(file));
}
