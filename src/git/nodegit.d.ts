/**
 * The slice of nodegit 0.27's API that `src/git/` uses. nodegit ships no TypeScript types and
 * `@types/nodegit` is not a dependency, so the calls we make are declared here by hand
 * (checked against the 0.27.0 bindings). Add to it when a new call is needed.
 */
declare module 'nodegit' {
  namespace NodeGit {
    class Oid {
      static fromString(sha: string): Oid;
      tostrS(): string;
      equal(other: Oid): number;
    }

    class Signature {
      /** `time` in seconds since the epoch; `offset` in minutes east of UTC. */
      static create(name: string, email: string, time: number, offset: number): Signature;
      name(): string;
      email(): string;
      when(): { time(): number; offset(): number };
    }

    class Odb {
      /** `data` is a string (nodegit passes it on as UTF-8); `length` its size in bytes. */
      write(data: string, length: number, type: number): Promise<Oid>;
    }

    class IndexEntry {
      path: string;
      id: Oid;
      mode: number;
      flags: number;
      flagsExtended: number;
      fileSize: number;
    }

    interface ConflictEntries {
      ancestor_out?: IndexEntry | null;
      our_out?: IndexEntry | null;
      their_out?: IndexEntry | null;
    }

    class Index {
      static entryStage(entry: IndexEntry): number;
      static ADD_OPTION: { ADD_DEFAULT: number; ADD_FORCE: number; ADD_DISABLE_PATHSPEC_MATCH: number; ADD_CHECK_PATHSPEC: number };
      entries(): IndexEntry[];
      hasConflicts(): number;
      conflictGet(path: string): Promise<ConflictEntries>;
      conflictRemove(path: string): Promise<number>;
      add(entry: IndexEntry): Promise<number>;
      addAll(pathspec: string[], flags: number): Promise<number>;
      updateAll(pathspec: string[]): Promise<number>;
      read(force: number): Promise<number>;
      write(): Promise<number>;
      writeTree(): Promise<Oid>;
      writeTreeTo(repo: Repository): Promise<Oid>;
      /** Replaces the index's entries with `tree`'s (in memory; `write()` saves it). */
      readTree(tree: Tree): Promise<number>;
    }

    class Status {
      static OPT: { INCLUDE_UNTRACKED: number; INCLUDE_IGNORED: number; RECURSE_UNTRACKED_DIRS: number; RECURSE_IGNORED_DIRS: number };
    }

    interface StatusFile {
      path(): string;
      status(): string[];
    }

    class TreeUpdate {
      action: number;
      path: string;
      id: Oid;
      filemode: number;
    }

    class Blob {
      /** The blob's bytes. */
      content(): Buffer;
      isBinary(): number;
    }

    class Tree {
      static UPDATE: { UPSERT: number; REMOVE: number };
      id(): Oid;
      /** A new tree: this one with `updates` applied (only the changed subtrees are rewritten). */
      createUpdated(repo: Repository, nupdates: number, updates: TreeUpdate[]): Promise<Oid>;
    }

    class Commit {
      id(): Oid;
      sha(): string;
      treeId(): Oid;
      getTree(): Promise<Tree>;
      parentcount(): number;
    }

    class Object {
      id(): Oid;
      type(): number;
      peel(type: number): Promise<Object>;
      static TYPE: { COMMIT: number; TREE: number; BLOB: number; TAG: number };
    }

    class Revparse {
      static single(repo: Repository, spec: string): Promise<Object>;
    }

    class Reference {
      name(): string;
      static create(repo: Repository, name: string, id: Oid, force: number, logMessage: string): Promise<Reference>;
      static isValidName(name: string): number;
    }

    interface DiffFile {
      path(): string;
      id(): Oid;
      mode(): number;
    }

    interface DiffDelta {
      status(): number;
      oldFile(): DiffFile;
      newFile(): DiffFile;
    }

    class Diff {
      static DELTA: { UNMODIFIED: number; ADDED: number; DELETED: number; MODIFIED: number; RENAMED: number; COPIED: number; TYPECHANGE: number };
      static treeToTree(repo: Repository, oldTree: Tree | null, newTree: Tree | null, opts?: unknown): Promise<Diff>;
      numDeltas(): number;
      getDelta(idx: number): DiffDelta;
    }

    interface CheckoutOptions {
      checkoutStrategy?: number;
      ourLabel?: string;
      theirLabel?: string;
      ancestorLabel?: string;
    }

    class Checkout {
      static STRATEGY: {
        FORCE: number;
        ALLOW_CONFLICTS: number;
        REMOVE_UNTRACKED: number;
        REMOVE_IGNORED: number;
        DONT_UPDATE_INDEX: number;
        CONFLICT_STYLE_MERGE: number;
      };
      static head(repo: Repository, opts?: CheckoutOptions): Promise<void>;
      static tree(repo: Repository, treeish: Commit | Tree, opts?: CheckoutOptions): Promise<void>;
      static index(repo: Repository, index: Index, opts?: CheckoutOptions): Promise<void>;
    }

    class Revwalk {
      push(id: Oid): number;
      hide(id: Oid): number;
      /** Up to `maxCount` commits reachable from the pushed ones and not from the hidden ones. */
      fastWalk(maxCount: number): Promise<Oid[]>;
    }

    class Graph {
      /** 1 if `commit` descends from `ancestor` (a commit is not its own descendant), else 0. */
      static descendantOf(repo: Repository, commit: Oid, ancestor: Oid): Promise<number>;
    }

    class Merge {
      static commits(repo: Repository, ours: Commit, theirs: Commit, opts?: unknown): Promise<Index>;
      /** The best common ancestor of two commits (rejects when they share none). */
      static base(repo: Repository, one: Oid, two: Oid): Promise<Oid>;
    }

    class Repository {
      static open(path: string): Promise<Repository>;
      odb(): Promise<Odb>;
      getCommit(id: Oid | string): Promise<Commit>;
      getBlob(id: Oid | string): Promise<Blob>;
      createRevWalk(): Revwalk;
      getTree(id: Oid | string): Promise<Tree>;
      refreshIndex(): Promise<Index>;
      headUnborn(): number;
      getHeadCommit(): Promise<Commit | null>;
      head(): Promise<Reference>;
      /** Status entries (index vs HEAD, workdir vs index) with `flags` from `Status.OPT`. */
      getStatusExt(opts: { flags: number }): Promise<StatusFile[]>;
      setHeadDetached(id: Oid): number;
      createCommit(
        updateRef: string | null,
        author: Signature,
        committer: Signature,
        message: string,
        tree: Oid | Tree,
        parents: Array<Oid | Commit | string>,
      ): Promise<Oid>;
      workdir(): string;
      isBare(): number;
      /** The main repository's git directory (for a worktree: the one its record lives in). */
      commondir(): string;
      /** The git directory (for a worktree: its private directory under the main repo). */
      path(): string;
      cleanup(): void;
    }
  }
  export default NodeGit;
}
