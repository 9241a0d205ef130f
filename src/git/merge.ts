import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import NodeGit from 'nodegit';
import type { Breakers } from '../breakers/index.ts';
import { RetryableError, TerminalError } from '../errors.ts';
import { applyBuiltInRules } from './conflict-rules.ts';
import { conflictedPaths, readConflict, settleConflict } from './conflicts.ts';
import { type Identity, toSignature } from './identity.ts';
import { commitShaIn, openRepository } from './repository.ts';
import { runResolverCommand } from './resolver-command.ts';
import { byMergeOrder, type MergeSource } from './score.ts';
import { ScoreBook } from './score-book.ts';
import { changedPathsBetweenTrees } from './diff.ts';
import { readSourceChanges, type FileChange } from './source-changes.ts';
import { commitObject, writeObjects, type CommitObject } from './commit-object.ts';
import { addWorktree, removeWorktreeDir } from './worktree.ts';
import { isolationPrefix, type Isolation } from '../sandbox/isolation.ts';

export interface MergeOptions {
  /** Omoi's clone holding the base and every source commit. */
  repoDir: string;
  /** Where the merge sandbox (a detached worktree) is created; removed again on every path. */
  sandboxDir: string;
  /** The commit (or ref) the sources are merged onto. */
  base: string;
  sources: MergeSource[];
  /** Author and committer of every merge commit, with a fixed time: same inputs, same shas. */
  who: Identity;
  /** Message of the merge commit of `source` (default `omoi: merge <id> (<sha>)`). */
  message?: (source: MergeSource) => string;
  /** Shell command run in the sandbox when built-in rules leave conflicts. */
  resolverCommand?: string;
  /** Shell command that must exit 0 after the resolver, run in the sandbox. */
  checkCommand?: string;
  /**
   * Most distinct files this merge hands to `resolverCommand` (those the built-in rules left);
   * a step that would go above it ends the merge with `too_many_conflicts` instead. Absent: no limit.
   */
  maxConflictsAutoResolve?: number;
  /** Variables for the resolver and check commands (e.g. an agent's API key). They see only
   * PATH, HOME, LANG, TERM, these, and the OMOI_* merge variables — never the node's own env. */
  resolverEnv?: Record<string, string>;
  /** Limit for each resolver/check run (default 10 minutes). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Full output of the resolver/check runs (appended); a temporary file if not given. */
  logFile?: string;
  /** How the resolver and check commands are isolated (src/sandbox/isolation.ts); absent: as they are. */
  isolation?: Isolation;
  /** false: the resolver and check commands get no network (needs bubblewrap). */
  network?: boolean;
  /** The node's circuit breakers (the resolver command's; see `runResolverCommand`). */
  breakers?: Breakers;
}

/** The record of one merge of a join's sources, kept whether it succeeded or not. */
export interface MergeAttempt {
  /** Source ids in the order they were merged (on failure: up to the one that failed). */
  order: string[];
  /** Files each merged source conflicted on against the merge head it was merged into. */
  conflicts: Record<string, string[]>;
  /** Who resolved each conflicted file: `rule:<name>` or `resolver`. */
  resolutions: Array<{ file: string; source: string; by: string }>;
  /** The tail of the resolver/check output ('' if none ran). */
  resolverOutput: string;
  durationMs: number;
}

export type MergeOutcome =
  | { ok: true; commit: string; attempt: MergeAttempt }
  | { ok: false; reason: 'merge_conflict' | 'too_many_conflicts'; files: string[]; attempt: MergeAttempt };

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const OUTPUT_TAIL_CHARS = 8 * 1024;

/**
 * Merges every source into `base`, one real merge commit (two parents: merge head, source) per
 * source — also for a source that merges cleanly or is a descendant of the head, never a
 * fast-forward, never skipped. Order: at each step the source with the fewest conflicted files
 * against the current merge head goes next (ties by id). Scores are kept exact without
 * re-merging every source each step (see `ScoreBook`): a source whose files the head has not
 * changed scores 0 and is merged by applying its changes to the head's tree (the tree the
 * three-way merge would give); the others are scored by an in-memory merge against the head.
 * So a join of n disjoint sources costs n tree updates, not n² merges.
 * A conflict goes through the resolver chain: built-in safe rules
 * per file, then `resolverCommand` in the sandbox, then validation (no markers, `checkCommand`
 * exits 0). Clean merges never touch the disk; the sandbox is written only for the resolver.
 * Commits use `who` (name, email, time), so re-running the same merge gives the same sha.
 * Result: the final merge commit, or `merge_conflict` with the files that stayed unresolved
 * (the merge stops at that source). No ref is moved: the caller records the commit.
 * Throws `TerminalError` for bad input (no sources, duplicate ids, unknown commits) and
 * `RetryableError('merge_aborted')` if `signal` aborts. The sandbox is always removed.
 */
export async function mergeSources(opts: MergeOptions): Promise<MergeOutcome> {
  const started = performance.now();
  const attempt: MergeAttempt = { order: [], conflicts: {}, resolutions: [], resolverOutput: '', durationMs: 0 };
  const signature = toSignature(opts.who);
  validateSources(opts.sources);
  const message = opts.message ?? ((s: MergeSource) => `omoi: merge ${s.id} (${s.commit})`);

  const tempLogDir = opts.logFile ? null : await mkdtemp(path.join(os.tmpdir(), 'omoi-merge-log-'));
  const logFile = opts.logFile ?? path.join(tempLogDir!, 'resolver.log');
  const outputs: string[] = [];
  /** Files given to the resolver so far, for `maxConflictsAutoResolve`. */
  const handedToResolver = new Set<string>();
  const finish = <T extends MergeOutcome>(outcome: T): T => {
    attempt.resolverOutput = outputs.join('\n').slice(-OUTPUT_TAIL_CHARS);
    attempt.durationMs = Math.round(performance.now() - started);
    return outcome;
  };

  // Resolve every input before creating anything, so bad input fails cleanly.
  const clone = await openRepository(opts.repoDir);
  let base: string;
  let sources: MergeSource[];
  try {
    base = await commitShaIn(clone, opts.base);
    sources = [];
    const shas = new Map<string, string>(); // sources often share a commit (tasks that changed nothing)
    for (const s of opts.sources) {
      if (!shas.has(s.commit)) shas.set(s.commit, await commitShaIn(clone, s.commit));
      sources.push({ id: s.id, commit: shas.get(s.commit)! });
    }
    base = await mergeOnto(clone, base, [...new Set(shas.values())]);
  } finally {
    clone.cleanup();
  }

  const worktree = await addWorktree(opts.repoDir, opts.sandboxDir, base, { checkout: false }); // files only if a resolver needs them
  // A resolver writes its sandbox, the worktree's record (index) and its log; reads the clone.
  const wrap = () => (opts.isolation
    ? isolationPrefix(opts.isolation, { writable: [worktree.dir, worktree.adminDir, path.dirname(logFile)], readOnly: [worktree.commonDir], cwd: worktree.dir, network: opts.network })
    : []);
  let sandbox: NodeGit.Repository | undefined;
  try {
    sandbox = await openRepository(opts.sandboxDir);
    const repo = sandbox;
    const baseCommit = await repo.getCommit(base);
    // The merge head: its sha always; its commit object only when a real merge needs it. Merge
    // commits are hashed here (`commitObject`) and written in batches, concurrently, when the
    // head is needed as an object and at the end: a join of a thousand sources that need no
    // three-way merge is a thousand hashes and one burst of writes, not a thousand round trips.
    let headId = baseCommit.sha();
    let headCommit: NodeGit.Commit | null = baseCommit;
    const unwritten: CommitObject[] = [];
    const flush = () => writeObjects(repo, unwritten.splice(0));
    const head = async () => {
      await flush();
      return (headCommit ??= await repo.getCommit(headId));
    };
    let headTree = await baseCommit.getTree();
    const baseTree = headTree;
    const changesOf = new Map<string, ReturnType<typeof readSourceChanges>>(); // one diff per distinct commit
    const book = new ScoreBook(await Promise.all(sources.map(async (source) => {
      if (!changesOf.has(source.commit)) changesOf.set(source.commit, repo.getCommit(source.commit).then((c) => readSourceChanges(repo, baseCommit, baseTree, c)));
      return { source, changes: await changesOf.get(source.commit)! };
    })));
    while (book.remaining > 0) {
      throwIfAborted(opts.signal);
      // Score the sources whose score the last merge may have changed; keep the best one's
      // merge, which is the one to commit if it goes next.
      let fresh: { id: string; conflicts: string[]; index: NodeGit.Index } | undefined;
      for (const source of book.stale()) {
        const index = await NodeGit.Merge.commits(repo, await head(), await repo.getCommit(source.commit));
        const scored = { id: source.id, conflicts: conflictedPaths(index), index };
        book.score(source.id, scored.conflicts);
        if (!fresh || byMergeOrder(scored, fresh) < 0) fresh = scored;
      }
      const next = book.next();
      attempt.order.push(next.source.id);

      let tree: NodeGit.Oid;
      if (next.direct?.length === 0) {
        // The source changed nothing: its merge commit keeps the head's tree.
        attempt.conflicts[next.source.id] = [];
        tree = headTree.id();
      } else if (next.direct) {
        // Nothing the source changed has moved since the base: the merge takes its side of every
        // file it changed and the head's of everything else, so the tree is built directly.
        attempt.conflicts[next.source.id] = [];
        tree = await headTree.createUpdated(repo, next.direct.length, next.direct.map(toTreeUpdate));
      } else {
        const index = fresh?.id === next.source.id ? fresh.index : await NodeGit.Merge.commits(repo, await head(), await repo.getCommit(next.source.commit));
        const conflicts = conflictedPaths(index);
        attempt.conflicts[next.source.id] = conflicts;

        // (a) Built-in safe rules, file by file.
        for (const file of conflicts) {
          const verdict = applyBuiltInRules(await readConflict(index, file));
          if (!verdict) continue;
          await settleConflict(index, file, verdict.keep);
          attempt.resolutions.push({ file, source: next.source.id, by: `rule:${verdict.rule}` });
        }
        const unresolved = conflictedPaths(index);

        if (unresolved.length === 0) {
          tree = await index.writeTreeTo(repo);
        } else if (!opts.resolverCommand) {
          return finish({ ok: false, reason: 'merge_conflict', files: unresolved, attempt });
        } else if (opts.maxConflictsAutoResolve !== undefined && new Set([...handedToResolver, ...unresolved]).size > opts.maxConflictsAutoResolve) {
          // Too much for unattended resolution: a person looks at these (`merge.resolve`).
          return finish({ ok: false, reason: 'too_many_conflicts', files: unresolved, attempt });
        } else {
          for (const file of unresolved) handedToResolver.add(file);
          // (b) + (c) The resolver command in the sandbox, then validation.
          const verdict = await runResolverCommand({
            sandbox: repo, sandboxDir: opts.sandboxDir, head: await head(), source: next.source, mergeIndex: index, conflicted: unresolved,
            resolverCommand: opts.resolverCommand, checkCommand: opts.checkCommand, env: opts.resolverEnv,
            timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: opts.signal, logFile, wrap: wrap(), breakers: opts.breakers,
          });
          outputs.push(verdict.output);
          if (!verdict.ok) return finish({ ok: false, reason: 'merge_conflict', files: verdict.files, attempt });
          for (const file of unresolved) attempt.resolutions.push({ file, source: next.source.id, by: 'resolver' });
          tree = verdict.tree;
        }
      }
      const commit = commitObject(tree.tostrS(), [headId, next.source.commit], signature, message(next.source));
      unwritten.push(commit);
      const previousTree = headTree;
      headId = commit.sha;
      headCommit = null;
      if (tree.tostrS() !== headTree.id().tostrS()) headTree = await repo.getTree(tree);
      const headChanges = next.direct?.map((f) => f.path) ?? (book.remaining > 1 ? await changedPathsBetweenTrees(repo, previousTree, headTree) : []);
      book.merged(next.source.id, headChanges);
    }
    await flush();
    return finish({ ok: true, commit: headId, attempt });
  } finally {
    sandbox?.cleanup();
    await removeWorktreeDir(opts.sandboxDir);
    if (tempLogDir) await rm(tempLogDir, { recursive: true, force: true });
  }
}

/**
 * Where the merge starts: the newest commit every source descends from (e.g. the head of the
 * task they all split from), so the history shows the sources joining where they forked —
 * unless that is one of the sources itself (a source merged onto itself is no merge) or not a
 * descendant of `base`; then `base`.
 */
async function mergeOnto(repo: NodeGit.Repository, base: string, commits: string[]): Promise<string> {
  if (commits.length < 2) return base;
  let common = NodeGit.Oid.fromString(commits[0]!);
  for (const commit of commits.slice(1)) {
    try {
      common = await NodeGit.Merge.base(repo, common, NodeGit.Oid.fromString(commit));
    } catch {
      return base; // unrelated histories
    }
  }
  const sha = common.tostrS();
  if (sha === base || commits.includes(sha)) return base;
  return (await NodeGit.Graph.descendantOf(repo, common, NodeGit.Oid.fromString(base))) ? sha : base;
}

function toTreeUpdate(change: FileChange): NodeGit.TreeUpdate {
  const update = new NodeGit.TreeUpdate();
  update.path = change.path;
  if (change.id === null) {
    update.action = NodeGit.Tree.UPDATE.REMOVE;
  } else {
    update.action = NodeGit.Tree.UPDATE.UPSERT;
    update.id = NodeGit.Oid.fromString(change.id);
    update.filemode = change.mode;
  }
  return update;
}

function validateSources(sources: MergeSource[]): void {
  if (sources.length === 0) throw new TerminalError('invalid_merge', 'a merge needs at least one source');
  const seen = new Set<string>();
  for (const s of sources) {
    if (!s.id) throw new TerminalError('invalid_merge', 'every merge source needs an id');
    if (seen.has(s.id)) throw new TerminalError('invalid_merge', `merge source id ${JSON.stringify(s.id)} appears twice`);
    seen.add(s.id);
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RetryableError('merge_aborted', 'the merge was aborted');
}
