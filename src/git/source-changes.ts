import NodeGit from 'nodegit';

/** One file a source changed against the base: its new blob and mode, or `null` if deleted. */
export interface FileChange { path: string; id: string | null; mode: number }

/**
 * What a merge source changed relative to the join's base: enough to tell when its score
 * against a moving merge head can have changed, and to merge it without a three-way merge
 * when nothing it touched has moved.
 */
export interface SourceChanges {
  /** False when the base is not an ancestor of the source (its merge base with the head is
   * not the base, so its changes cannot be read off a diff against the base). */
  descendsFromBase: boolean;
  /** Files changed from the base's tree to the source's (a rename is its old and new path). */
  files: FileChange[];
  /** Commits reachable from the source but not from the base, or `null` if there are more than
   * `MAX_OWN_COMMITS` (then any overlap with another source's history must be assumed). */
  ownCommits: Set<string> | null;
  /** The changes can be applied as plain tree updates (no file replaced by a directory or the
   * reverse, no submodule), which is what the direct merge needs. */
  treeUpdatable: boolean;
}

/** Beyond this many own commits a source's history is not tracked (see `ownCommits`). */
export const MAX_OWN_COMMITS = 2000;

const SUBMODULE_MODE = 0o160000;

/** Reads a source's changes against `base` (both commits of `repo`). */
export async function readSourceChanges(repo: NodeGit.Repository, base: NodeGit.Commit, baseTree: NodeGit.Tree, source: NodeGit.Commit): Promise<SourceChanges> {
  const descendsFromBase = source.id().equal(base.id()) === 1 || (await NodeGit.Graph.descendantOf(repo, source.id(), base.id())) === 1;

  const walk = repo.createRevWalk();
  walk.push(source.id());
  walk.hide(base.id());
  const own = await walk.fastWalk(MAX_OWN_COMMITS + 1);
  const ownCommits = own.length > MAX_OWN_COMMITS ? null : new Set(own.map((oid) => oid.tostrS()));

  const diff = await NodeGit.Diff.treeToTree(repo, baseTree, await source.getTree());
  const files: FileChange[] = [];
  let treeUpdatable = true;
  for (let i = 0; i < diff.numDeltas(); i++) {
    const delta = diff.getDelta(i);
    const status = delta.status();
    const from = delta.oldFile();
    const to = delta.newFile();
    if (status === NodeGit.Diff.DELTA.DELETED) {
      files.push({ path: from.path(), id: null, mode: 0 });
    } else {
      files.push({ path: to.path(), id: to.id().tostrS(), mode: to.mode() });
      if (status !== NodeGit.Diff.DELTA.ADDED && status !== NodeGit.Diff.DELTA.MODIFIED) treeUpdatable = false; // type changes
    }
    if (from.mode() === SUBMODULE_MODE || to.mode() === SUBMODULE_MODE) treeUpdatable = false;
  }
  // A file and a directory of the same name (one replaces the other) need a real merge.
  const paths = new Set(files.map((f) => f.path));
  if (files.some((f) => parentDirs(f.path).some((dir) => paths.has(dir)))) treeUpdatable = false;
  return { descendsFromBase, files, ownCommits, treeUpdatable };
}

/** `a/b/c.txt` → `['a', 'a/b']`. */
export function parentDirs(file: string): string[] {
  const dirs: string[] = [];
  for (let i = file.indexOf('/'); i !== -1; i = file.indexOf('/', i + 1)) dirs.push(file.slice(0, i));
  return dirs;
}
