import NodeGit from 'nodegit';
import { changedPathsBetweenTrees } from './diff.ts';
import { type Identity, toSignature } from './identity.ts';
import { openRepository } from './repository.ts';

/**
 * Stages everything in the worktree at `worktreeDir` (new, modified and deleted files;
 * `.gitignore` is respected) and commits it on the checked-out branch (or detached HEAD) as
 * `who`, with `who.time`, so the same changes, message and identity give the same sha.
 * Returns the new commit, the files it changed, and the commit it was made on (`parent`: HEAD
 * before, `null` on an unborn branch). If nothing changed, no commit is made and the current
 * HEAD is returned with `[]`.
 */
export async function commitAll(worktreeDir: string, message: string, who: Identity): Promise<{ commit: string; changedFiles: string[]; parent: string | null }> {
  const signature = toSignature(who);
  const repo = await openRepository(worktreeDir);
  try {
    const index = await repo.refreshIndex();
    await index.addAll(['*'], NodeGit.Index.ADD_OPTION.ADD_DEFAULT); // additions and modifications
    await index.updateAll(['*']); // drops entries whose file was deleted
    const treeId = await index.writeTree();

    const head = repo.headUnborn() ? null : await repo.getHeadCommit();
    const headTree = head ? await head.getTree() : null;
    if (head && head.treeId().tostrS() === treeId.tostrS()) {
      return { commit: head.sha(), changedFiles: [], parent: head.sha() }; // nothing to commit, nor an index to write
    }
    await index.write();
    const tree = await repo.getTree(treeId);
    const changedFiles = await changedPathsBetweenTrees(repo, headTree, tree);
    const commitId = await repo.createCommit('HEAD', signature, signature, message, treeId, head ? [head.id()] : []);
    return { commit: commitId.tostrS(), changedFiles, parent: head?.sha() ?? null };
  } finally {
    repo.cleanup();
  }
}
