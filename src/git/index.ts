// The git work of Omoi: clones, refs, commits, worktrees and the merge of a join's sources.
export type { Identity } from './identity.ts';
export { ensureClone } from './clone.ts';
export { resolveCommit, setBranch } from './repository.ts';
export { commitAll } from './commit.ts';
export { changedFilesBetween } from './diff.ts';
export { scoreSources, type MergeSource, type SourceScore } from './score.ts';
export { mergeSources, type MergeAttempt, type MergeOptions, type MergeOutcome } from './merge.ts';
export { applyBuiltInRules, type RuleResolution } from './conflict-rules.ts';
export type { ConflictSide, ConflictVersions } from './conflicts.ts';
export { hasConflictMarkers } from './markers.ts';
export { addWorktree, pruneWorktrees, removeWorktreeDir, type WorktreeRecord } from './worktree.ts';
export { createSandboxRepo, type SandboxRepo } from './sandbox-repo.ts';
export { resetSandboxRepo, saveIndex } from './sandbox-reset.ts';
export { importSandboxObjects } from './sandbox-objects.ts';
export {
  attachTicketClone, prepareTicketClone, refreshTicketClone, sweepClones, ticketRepoDir, sharedCloneDir, linkedClone,
  type SweepOptions, type TicketLiveness,
} from './clone-cache.ts';
export { KeyedLock } from './keyed-lock.ts';
export { useRemoteBreakers } from './remote-breakers.ts';
export { CommitStore, type BundleBucket, type SavedCommit } from './commit-store.ts';
export { checkGitVersion, parseGitVersion, MIN_GIT_VERSION } from './git-version.ts';
