import type { MergeSource } from './score.ts';
import { parentDirs, type FileChange, type SourceChanges } from './source-changes.ts';

interface Entry {
  source: MergeSource;
  changes: SourceChanges;
  /** Files the source conflicts on against the current head; `null`: must be scored again. */
  conflicts: string[] | null;
  /** Its merge base with the head is the base (so its changes are `changes.files`), and the
   * head has changed none of its files (nor a file/directory in their way) since the base. */
  disjoint: boolean;
}

/**
 * The scores of a join's remaining sources against the moving merge head, kept up to date
 * without re-merging every source at every step. A source descending from the base, with no
 * history shared with a merged source (so its merge base with the head stays the base), whose
 * changed files (and the files/directories in their way) the head has not changed, cannot
 * conflict: the three-way merge takes its side for its files and the head's for the rest.
 * Its score is `[]` without a merge, and it can be merged by applying its changes to the
 * head's tree. Every other source is scored by a real merge after every step: once the head
 * has changed one of its files, rename pairing (libgit2 pairs the head's deleted and added
 * files by content, up to a rename limit counted over all changed paths) can change its
 * conflicts even when a later step does not touch its files.
 * So the order is exactly the one re-scoring everything at every step gives; disjoint
 * sources cost no scoring merge at all.
 *
 * Lifetime: one merge of one join; in memory.
 */
export class ScoreBook {
  private readonly entries = new Map<string, Entry>();
  /** `f:<path>` (a file a source changed) and `d:<dir>` (a directory above one) → source ids. */
  private readonly byPath = new Map<string, Set<string>>();
  private readonly byCommit = new Map<string, Set<string>>();

  constructor(sources: Array<{ source: MergeSource; changes: SourceChanges }>) {
    for (const { source, changes } of sources) {
      const disjoint = changes.descendsFromBase && changes.ownCommits !== null;
      this.entries.set(source.id, { source, changes, conflicts: disjoint ? [] : null, disjoint });
      for (const file of changes.files) {
        add(this.byPath, `f:${file.path}`, source.id);
        for (const dir of parentDirs(file.path)) add(this.byPath, `d:${dir}`, source.id);
      }
      for (const commit of changes.ownCommits ?? []) add(this.byCommit, commit, source.id);
    }
  }

  get remaining(): number {
    return this.entries.size;
  }

  /** The remaining sources that must be scored against the current head (by id). */
  stale(): MergeSource[] {
    const stale: MergeSource[] = [];
    for (const e of this.entries.values()) if (e.conflicts === null) stale.push(e.source);
    return stale.length > 1 ? stale.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) : stale;
  }

  /** Records `conflicts` as the score of source `id` against the current head. */
  score(id: string, conflicts: string[]): void {
    this.entry(id).conflicts = conflicts;
  }

  /**
   * The next source in merge order (fewest conflicts, ties by id), its conflicts, and whether
   * it can be merged `direct`ly: its changes applied to the head's tree, because nothing it
   * changed has moved since the base (the three-way merge would take its side for every file).
   * Throws if a remaining source is unscored (call `stale` and `score` first).
   */
  next(): { source: MergeSource; conflicts: string[]; direct: FileChange[] | null } {
    // `direct` only for a disjoint source: its conflicts are [] and its files as in the base.
    let best: Entry | undefined;
    for (const e of this.entries.values()) {
      if (e.conflicts === null) throw new Error(`merge source ${e.source.id} has no score against the current head`);
      // Merge order (as `byMergeOrder`): fewer conflicts first, then the smaller id.
      if (!best || e.conflicts.length < best.conflicts!.length || (e.conflicts.length === best.conflicts!.length && e.source.id < best.source.id)) best = e;
    }
    if (!best) throw new Error('no merge source remains');
    const direct = best.disjoint && best.changes.treeUpdatable;
    return { source: best.source, conflicts: best.conflicts!, direct: direct ? best.changes.files : null };
  }

  /**
   * Records that source `id` was merged and the head's tree changed at `headChanges` (paths);
   * marks the remaining sources whose score that may have changed as stale.
   */
  merged(id: string, headChanges: string[]): void {
    const merged = this.entry(id);
    this.entries.delete(id);
    const lose = (other: string) => {
      const e = this.entries.get(other);
      if (e) e.disjoint = false;
    };
    // Shared history moves the merge base of every source that has it.
    if (merged.changes.ownCommits === null) {
      for (const other of this.entries.keys()) lose(other);
    } else {
      for (const commit of merged.changes.ownCommits) for (const other of this.byCommit.get(commit) ?? []) lose(other);
    }
    for (const path of new Set(headChanges)) {
      for (const key of [`f:${path}`, `d:${path}`, ...parentDirs(path).map((dir) => `f:${dir}`)]) {
        for (const other of this.byPath.get(key) ?? []) lose(other);
      }
    }
    for (const e of this.entries.values()) if (!e.disjoint) e.conflicts = null;
  }

  private entry(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw new Error(`unknown merge source ${id}`);
    return e;
  }
}

function add(map: Map<string, Set<string>>, key: string, id: string): void {
  let ids = map.get(key);
  if (!ids) map.set(key, (ids = new Set()));
  ids.add(id);
}
