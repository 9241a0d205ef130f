import NodeGit from 'nodegit';

/** One side of a conflicted file: the blob and file mode, or `null` where that side has no file. */
export interface ConflictSide { id: string; mode: number }

/** The three versions of a conflicted path in a merge index. */
export interface ConflictVersions {
  path: string;
  ancestor: ConflictSide | null;
  ours: ConflictSide | null;
  theirs: ConflictSide | null;
}

/** Conflicted paths of a merge index (entries at stage 1–3), sorted, each once. */
export function conflictedPaths(index: NodeGit.Index): string[] {
  if (!index.hasConflicts()) return []; // the common case, without a JS object per entry
  const paths = new Set<string>();
  for (const entry of index.entries()) {
    if (NodeGit.Index.entryStage(entry) > 0) paths.add(entry.path);
  }
  return [...paths].sort();
}

/**
 * The ancestor/ours/theirs versions of `path`, copied out of the index (libgit2's entries
 * point into index memory and become invalid once the conflict is removed).
 */
export async function readConflict(index: NodeGit.Index, path: string): Promise<ConflictVersions> {
  const entries = await index.conflictGet(path);
  const side = (entry: NodeGit.IndexEntry | null | undefined): ConflictSide | null =>
    entry ? { id: entry.id.tostrS(), mode: entry.mode } : null;
  return { path, ancestor: side(entries.ancestor_out), ours: side(entries.our_out), theirs: side(entries.their_out) };
}

/**
 * Replaces the conflict on `path` with a resolved version: `side` as the stage-0 entry, or no
 * entry at all (`null`: the file is deleted by the merge).
 */
export async function settleConflict(index: NodeGit.Index, path: string, side: ConflictSide | null): Promise<void> {
  await index.conflictRemove(path);
  if (!side) return;
  const entry = new NodeGit.IndexEntry();
  entry.path = path;
  entry.id = NodeGit.Oid.fromString(side.id);
  entry.mode = side.mode;
  entry.flags = 0; // stage 0
  entry.flagsExtended = 0;
  await index.add(entry);
}
