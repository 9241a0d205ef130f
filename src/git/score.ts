import NodeGit from 'nodegit';
import { conflictedPaths } from './conflicts.ts';
import { commitShaIn, openRepository } from './repository.ts';

/** A branch head to merge, named by its source (e.g. the task whose head it is). */
export interface MergeSource { id: string; commit: string }

/** A source's score: the files an in-memory merge into the head would leave conflicted. */
export interface SourceScore { id: string; conflicts: string[] }

/**
 * Scores each source by merging it into `head` in memory (nothing on disk changes) and
 * listing the conflicted files. Returned in merge order: fewest conflicted files first, ties
 * broken by source id (code-unit order), so the order is the same on every node.
 * Throws `TerminalError('unknown_ref')` if `head` or a source commit is unknown.
 */
export async function scoreSources(repoDir: string, head: string, sources: MergeSource[]): Promise<SourceScore[]> {
  const repo = await openRepository(repoDir);
  try {
    const headCommit = await repo.getCommit(await commitShaIn(repo, head));
    const scores: SourceScore[] = [];
    for (const source of sources) {
      const sourceCommit = await repo.getCommit(await commitShaIn(repo, source.commit));
      const index = await NodeGit.Merge.commits(repo, headCommit, sourceCommit);
      scores.push({ id: source.id, conflicts: conflictedPaths(index) });
    }
    return scores.sort(byMergeOrder);
  } finally {
    repo.cleanup();
  }
}

/** Fewest conflicts first; equal counts by id, compared by code units (locale-independent). */
export function byMergeOrder(a: SourceScore, b: SourceScore): number {
  if (a.conflicts.length !== b.conflicts.length) return a.conflicts.length - b.conflicts.length;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
