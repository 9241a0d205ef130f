import type { ConflictSide, ConflictVersions } from './conflicts.ts';

/** A built-in rule's verdict on one conflicted file: the version to keep (`null` = delete). */
export interface RuleResolution { rule: string; keep: ConflictSide | null }

/**
 * The safe built-in rules, tried in order on one conflicted file. Each resolves only when no
 * change can be lost:
 * - `identical`: both sides made the same change (same blob and mode, or both deleted) → take it;
 * - `ours-unchanged`: our side equals the merge base → take theirs (even a deletion);
 * - `theirs-unchanged`: their side equals the merge base → take ours.
 * Returns `null` when no rule applies (a real conflict for the resolver command).
 * libgit2's tree merge already settles most such cases itself; these rules catch what its
 * file-level pass leaves behind (and keep the chain's behaviour explicit).
 */
export function applyBuiltInRules(conflict: ConflictVersions): RuleResolution | null {
  const { ancestor, ours, theirs } = conflict;
  if (sameSide(ours, theirs)) return { rule: 'identical', keep: ours };
  if (ancestor && sameSide(ours, ancestor)) return { rule: 'ours-unchanged', keep: theirs };
  if (ancestor && sameSide(theirs, ancestor)) return { rule: 'theirs-unchanged', keep: ours };
  return null;
}

function sameSide(a: ConflictSide | null, b: ConflictSide | null): boolean {
  if (!a || !b) return a === b;
  return a.id === b.id && a.mode === b.mode;
}
