import NodeGit from 'nodegit';
import { commitShaIn, openRepository } from './repository.ts';

/**
 * Paths that differ between two trees (added, modified, deleted, type-changed; a rename is
 * listed as its old and its new path), sorted and without duplicates. `null` is the empty tree.
 */
export async function changedPathsBetweenTrees(repo: NodeGit.Repository, from: NodeGit.Tree | null, to: NodeGit.Tree | null): Promise<string[]> {
  const diff = await NodeGit.Diff.treeToTree(repo, from, to);
  const paths = new Set<string>();
  for (let i = 0; i < diff.numDeltas(); i++) {
    const delta = diff.getDelta(i);
    paths.add(delta.oldFile().path());
    paths.add(delta.newFile().path());
  }
  return [...paths].sort();
}

/**
 * Files that differ between commits `from` and `to` (any refs), sorted. Throws
 * `TerminalError('unknown_ref')` if either does not name a commit.
 */
export async function changedFilesBetween(repoDir: string, from: string, to: string): Promise<string[]> {
  const repo = await openRepository(repoDir);
  try {
    const [fromCommit, toCommit] = await Promise.all([
      commitShaIn(repo, from).then((sha) => repo.getCommit(sha)),
      commitShaIn(repo, to).then((sha) => repo.getCommit(sha)),
    ]);
    return await changedPathsBetweenTrees(repo, await fromCommit.getTree(), await toCommit.getTree());
  } finally {
    repo.cleanup();
  }
}
