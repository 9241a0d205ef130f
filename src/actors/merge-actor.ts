import { mkdir, rm } from 'node:fs/promises';
import type { Breakers } from '../breakers/index.ts';
import path from 'node:path';
import nact from 'nact';
import { errorMessage, isTerminal, RetryableError } from '../errors.ts';
import type { PublishCommand } from '../executor/command-publisher.ts';
import { failpoint } from '../failpoints.ts';
import { KeyedLock, mergeSources, type CommitStore, type MergeOutcome, type MergeSource } from '../git/index.ts';
import type { Isolation } from '../sandbox/isolation.ts';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../metrics.ts';
import { ActorType, MergeFailure } from '../protocol/index.ts';
import { actorTypeOf, keepAlive, type SupervisionReport } from './entity-host.ts';
import { RestartBudget, type SupervisionOptions } from './supervision.ts';

const { spawn, dispatch, stop } = nact;
type Ref = nact.Ref<any>;

/** One merge attempt of a join, as the JoinActor hands it over after its commit. */
export interface MergeJob {
  ticketId: string;
  joinId: string;
  attempt: number;
  /** Omoi's clone of the ticket's repository (`<dataDir>/repos/<ticket>`). */
  repoDir: string;
  /** The ticket's repository: where a node that never saw the ticket clones it from. */
  repository: string;
  /** The ticket's base commit; the merge starts at the sources' fork point when that is newer (see `mergeSources`). */
  base: string;
  sources: MergeSource[];
  /** The join's `created_at`: fixed author/committer time, so a re-run yields the same shas. */
  time: Date;
  resolverCommand?: string | null;
  checkCommand?: string | null;
  /** Most conflicted files handed to the resolver in this merge (the ticket's `max_conflicts_auto_resolve`; null: no limit). */
  maxConflictsAutoResolve?: number | null;
  /** false: the resolver and check commands get no network (the ticket's `network`). */
  network?: boolean;
}

/** The final merge of a ticket with several sink tasks (no join, no attempt). */
export type FinalMergeJob = Omit<MergeJob, 'joinId' | 'attempt'>;

/** How one MergeActor reports: its durable result, or the failure that ends its attempt. */
interface Assignment {
  /** `<ticket>/<join>/<attempt>` or `<ticket>/final`: one live MergeActor per key on this node. */
  key: string;
  job: MergeJob;
  report(outcome: MergeOutcome): Promise<void>;
  fail(reason: string): Promise<void>;
  /** The entity actor to keep from passivating while this merge runs (its JoinActor). */
  keepAlive?: Ref;
}

type MergeMail = { kind: 'run' };
/** One MergeActor's lifetime: aborted when it stops; `reported()` ends its keep-alive pings. */
type Life = { signal: AbortSignal; reported: () => void };
type MergeActorState = { status: 'merging' | 'reported' };

export interface MergeSupervisorDeps {
  dataDir: string;
  publish: PublishCommand;
  log: Logger;
  metrics: Metrics;
  supervision: SupervisionOptions;
  report: (r: SupervisionReport) => void;
  /** The node's actor system root: the parent of the node-level `final-merges` supervisor. */
  root: Ref;
  /** Passivation time of entity actors, ms: a MergeActor pings its JoinActor thrice per period. */
  idleMs: number;
  /** How resolver and check commands are isolated (src/sandbox/isolation.ts); absent: unsandboxed. */
  isolation?: Isolation;
  /** Where commits travel between nodes: sources fetched before the merge, the merge commit saved before its report. */
  commits: CommitStore;
  /** The node's circuit breakers (a resolver command that keeps failing fast). */
  breakers?: Breakers;
}

/**
 * MergeActors and their node-level supervisor.
 *
 * A **MergeActor** is a nact actor that owns one merge sandbox
 * (`<dataDir>/sandboxes/merge-<ticket>-<join>-<attempt>`) for its lifetime: it merges the
 * sources (`mergeSources`) and reports the outcome through a durable command. It never writes
 * state itself.
 *
 * Invariants:
 * 1. **Spawned by its join.** A join's MergeActor is a nact child of the JoinActor
 *    (`spawn(ctx.self, …)`, named `merge-<attempt>`), spawned in the `afterCommit` effect of
 *    the message that made the join `merging` — every source in, or `wake` after a restart of
 *    the node. At most one per (ticket, join, attempt) on a node: a second spawn is a no-op.
 * 2. **Stopped once its result is durable.** It publishes `merge.finished` (Nats-Msg-Id
 *    `merge-finished:<ticket>:<join>:<attempt>`) through the node's `effectPublisher`, which
 *    resolves once JetStream acknowledged it or, NATS being away, once it is kept in the
 *    outbox that the sweep re-drives: the result can no longer be lost, and an outage of NATS
 *    is not a crash of the MergeActor. Then it stops itself. The JoinActor, committing that result, stops any
 *    MergeActor of the attempt still alive here (a duplicate spawned by a `wake`).
 * 3. **The join stays up while it merges.** Until it has reported, the MergeActor sends
 *    `keepAlive` to its JoinActor every `idleMs / 3`, so an idle join is not passivated under
 *    a running merge. nact does not stop the children of a stopped actor (it detaches them), so
 *    when the JoinActor stops anyway (escalation, node shutdown) its `stopped` hook calls
 *    `stopChildrenOf`: the merge is aborted (its signal), its sandbox removed, and it stops.
 *    A join left `merging` without a live MergeActor (a crash of the node, or of the JoinActor)
 *    is re-driven: `ticket.wake` (recovery, and the node supervisor's sweep) spawns it again.
 * 4. **Supervision** as for entity actors (`SupervisionOptions`): an unexpected error crashes
 *    it; it is restarted after `min(base · 2^(n-1), max)` ms and runs the same attempt again
 *    (same sandbox path, same deterministic shas, same message id: one merge commit however
 *    often it runs). The `(restartMax+1)`-th crash within `restartWindowMs` escalates: the
 *    attempt is reported failed (`failure: 'error'`, `reason` naming the error) so the join
 *    ends `blocked` — never waiting forever — an `actor.supervision`/`alert.raised` is
 *    published, and the actor stops. A `TerminalError` is reported failed at once.
 * 5. **Final merges** (`finalize`) are MergeActors too, children of the node-level
 *    `final-merges` supervisor, under the same rules; they report `ticket.finalize`
 *    (id `finalize:<ticket>`) and stop themselves once it is published.
 */
export class MergeSupervisor {
  private readonly live = new Map<string, { ref: Ref; parent: Ref; abort: AbortController }>();
  /** One merge at a time per sandbox directory (see `merge`). */
  private readonly sandboxes = new KeyedLock();
  /** Join attempts reported (durably) but not yet recorded by their join, with the time of the report. */
  private readonly reported = new Map<string, number>();
  private readonly budget: RestartBudget;
  private readonly finals: Ref;

  constructor(private readonly deps: MergeSupervisorDeps) {
    this.budget = new RestartBudget(deps.supervision);
    // Final merges supervise themselves (invariant 4); nothing escalates to this parent.
    this.finals = spawn(deps.root, (state: unknown) => state, 'final-merges', { onCrash: (_m: unknown, _e: unknown, ctx: any) => ctx.stopChild });
  }

  /**
   * Whether the merge of this join attempt is in hand on this node: its MergeActor is alive, or
   * reported less than `REPORTED_GRACE_MS` ago and its join has not recorded it yet (a backlog
   * on the partition). Otherwise a `merging` join is re-driven by the node supervisor.
   */
  isRunning(ticketId: string, joinId: string, attempt: number): boolean {
    const key = joinKey(ticketId, joinId, attempt);
    if (this.live.has(key)) return true;
    const at = this.reported.get(key);
    if (at !== undefined && Date.now() - at < REPORTED_GRACE_MS) return true;
    this.reported.delete(key);
    return false;
  }

  /**
   * Spawns the MergeActor of a join attempt as a child of `join` (the JoinActor's nact ref),
   * unless it is already alive. Call after the commit that made the join `merging`. Never throws:
   * a JoinActor stopped in between is logged (its `ticket.wake` re-drives the merge).
   */
  spawn(join: Ref, job: MergeJob): void {
    const id = `merge-finished:${job.ticketId}:${job.joinId}:${job.attempt}`;
    const started = Date.now();
    this.start(join, `merge-${job.attempt}`, {
      key: joinKey(job.ticketId, job.joinId, job.attempt), job, keepAlive: join,
      report: (outcome) => this.deps.publish('merge.finished', toPayload(job, outcome), id),
      fail: (reason) => this.deps.publish('merge.finished', {
        ticket_id: job.ticketId, join_id: job.joinId, attempt: job.attempt, ok: false, failure: MergeFailure.error, reason: `merge_error: ${reason}`,
        order: [], conflicts: {}, resolutions: [], files: [], resolver_output: '', duration_ms: Date.now() - started,
      }, id),
    });
  }

  /** Stops the MergeActor of a join attempt (its result is recorded). Safe if it is not alive. */
  stop(ticketId: string, joinId: string, attempt: number): void {
    const key = joinKey(ticketId, joinId, attempt);
    this.reported.delete(key);
    this.end(key);
  }

  /**
   * Stops the MergeActors of a parent that stopped. nact only detaches the children of a
   * stopped actor: they would run on, unreachable. A running merge is aborted (its signal; it
   * then stops through its supervision), an idle one is forgotten and stops after `idleMs`.
   */
  stopChildrenOf(parent: Ref): void {
    for (const [key, child] of this.live) if (child.parent === parent) this.end(key);
  }

  /**
   * Merges several sink branches of a ticket into its final head and reports `ticket.finalize`
   * (`head`, or `error`): a MergeActor under the node's `final-merges` supervisor (invariant 5).
   * Call after commit; a second call while it runs is a no-op. Never throws.
   */
  finalize(job: FinalMergeJob): void {
    const finalize = (payload: Record<string, unknown>) => this.deps.publish('ticket.finalize', { ticket_id: job.ticketId, ...payload }, `finalize:${job.ticketId}`);
    this.start(this.finals, `final-${Buffer.from(job.ticketId).toString('base64url')}`, {
      key: `${job.ticketId}/final`, job: { ...job, joinId: 'final', attempt: 1 },
      report: (outcome) => finalize(outcome.ok ? { head: outcome.commit } : { error: `${outcome.reason}: ${outcome.files.join(', ')}` }),
      fail: (reason) => finalize({ error: `merge_error: ${reason}` }),
    });
  }

  /** Stops every MergeActor of this node (node shutdown): running merges are aborted. */
  stopAll(): void {
    for (const key of [...this.live.keys()]) this.end(key);
    stop(this.finals);
  }

  /** Aborts a MergeActor's merge and stops it; it no longer counts as alive here. */
  private end(key: string): void {
    const child = this.live.get(key);
    if (!child) return;
    child.abort.abort();
    stop(child.ref); // a no-op once its parent is gone: then the abort (or `shutdownAfter`) stops it
    this.live.delete(key);
    this.deps.metrics.liveActors.set({ actor: ActorType.MergeActor }, this.live.size);
  }

  private start(parent: Ref, name: string, a: Assignment): void {
    const { log, metrics } = this.deps;
    if (this.live.has(a.key)) return;
    const abort = new AbortController();
    // Invariant 3: the JoinActor is not passivated under a running merge.
    const ping = a.keepAlive ? setInterval(() => keepAlive(a.keepAlive!), Math.max(10, Math.floor(this.deps.idleMs / 3))) : undefined;
    ping?.unref();
    const life: Life = { signal: abort.signal, reported: () => clearInterval(ping) };
    let ref: Ref;
    try {
      ref = spawn(parent, (state: MergeActorState, mail: MergeMail, ctx: any) => this.run(state, mail, ctx, a, life), name, {
        initialState: { status: 'merging' } satisfies MergeActorState,
        // Fallback only: a reported MergeActor whose JoinActor never stops it (the join moved away) goes after idleMs.
        shutdownAfter: this.deps.idleMs,
        onCrash: (_msg: unknown, err: Error | undefined, sctx: any) => this.crashed(a, err, sctx, life),
        afterStop: () => {
          abort.abort();
          clearInterval(ping);
          if (this.live.get(a.key)?.ref === ref) this.live.delete(a.key);
          metrics.liveActors.set({ actor: ActorType.MergeActor }, this.live.size);
        },
      });
    } catch (err) {
      clearInterval(ping);
      log.warn({ merge: a.key, err: errorMessage(err) }, 'could not spawn MergeActor: its parent stopped; ticket.wake re-drives the merge');
      return;
    }
    this.live.set(a.key, { ref, parent, abort });
    metrics.liveActors.set({ actor: ActorType.MergeActor }, this.live.size);
    // The parent as nact recorded it in the child's reference: what the orphan check observes.
    metrics.spawns.inc({ actor: ActorType.MergeActor, parent: actorTypeOf((ref as any).parent) ?? 'node' });
    dispatch(ref, { kind: 'run' } satisfies MergeMail);
  }

  /** The MergeActor's behaviour: merge, report, stop. */
  private async run(state: MergeActorState, mail: MergeMail, ctx: any, a: Assignment, life: Life): Promise<MergeActorState> {
    if (mail.kind !== 'run' || state.status === 'reported') return state;
    const outcome = await this.merge(a.job, life.signal);
    failpoint('merge.before_report'); // a crash here: the merge commit exists, its report does not
    if (life.signal.aborted) throw new RetryableError('merge_aborted', 'the MergeActor was stopped'); // its supervision stops it
    await a.report(outcome);
    life.reported();
    if (a.keepAlive) this.reported.set(a.key, Date.now());
    this.budget.forget(a.key);
    stop(ctx.self); // the report is durable: done (and its JoinActor, recording it, stops any duplicate)
    return { status: 'reported' };
  }

  /** Supervision of one MergeActor (invariant 4): restart after backoff, or report failed and stop. */
  private async crashed(a: Assignment, err: Error | undefined, sctx: any, { signal }: Life): Promise<symbol> {
    const { log, metrics, report, supervision } = this.deps;
    const entity = a.key;
    if (signal.aborted) return sctx.stop; // stopped with its parent: nothing to supervise
    if (isTerminal(err)) {
      log.warn({ merge: entity, err: errorMessage(err) }, 'merge failed for good');
      await a.fail(errorMessage(err)).catch((e) => log.error({ merge: entity, err: errorMessage(e) }, 'could not report merge failure'));
      return sctx.stop;
    }
    const decision = this.budget.crashed(a.key);
    metrics.restarts.inc({ actor: ActorType.MergeActor, action: 'crashed' });
    report({ actor: ActorType.MergeActor, entity, action: 'crashed', error: errorMessage(err), restarts: decision.restarts });
    if (decision.action === 'escalate') {
      const reason = `escalated after ${supervision.restartMax} restarts: ${errorMessage(err)}`;
      metrics.restarts.inc({ actor: ActorType.MergeActor, action: 'escalated' });
      log.error({ merge: entity, err: errorMessage(err) }, 'MergeActor escalated; attempt reported failed');
      await a.fail(reason).catch((e) => log.error({ merge: entity, err: errorMessage(e) }, 'could not report merge failure; ticket.wake re-drives it'));
      report({ actor: ActorType.MergeActor, entity, action: 'escalated', error: errorMessage(err), restarts: supervision.restartMax });
      return sctx.stop;
    }
    log.warn({ merge: entity, err: errorMessage(err), backoffMs: decision.backoffMs }, 'MergeActor crashed; restarting after backoff');
    await new Promise((r) => setTimeout(r, decision.backoffMs).unref());
    if (signal.aborted) return sctx.stop;
    metrics.restarts.inc({ actor: ActorType.MergeActor, action: 'restarted' });
    report({ actor: ActorType.MergeActor, entity, action: 'restarted', error: errorMessage(err), restarts: decision.restarts, backoff_ms: decision.backoffMs });
    dispatch(sctx.self, { kind: 'run' } satisfies MergeMail); // queued behind the reset: the same attempt runs again
    return sctx.reset;
  }

  /**
   * The merge in its sandbox; the sandbox is removed on every path (and before, if a crashed run
   * left it). Runs of one sandbox are serialized: an aborted run (its actor stopped) winds down
   * through calls that cannot be interrupted, and must not remove the sandbox of the run that
   * replaced it.
   */
  private merge(job: MergeJob, signal: AbortSignal): Promise<MergeOutcome> {
    const sandboxDir = path.join(this.deps.dataDir, 'sandboxes', `merge-${job.ticketId}-${job.joinId}-${job.attempt}`);
    return this.sandboxes.run(sandboxDir, async () => {
      const logDir = path.join(this.deps.dataDir, 'logs', job.ticketId);
      await mkdir(logDir, { recursive: true });
      await rm(sandboxDir, { recursive: true, force: true });
      failpoint('merge.start');
      try {
        // The sources may have been made on other nodes, the base too (a join's merge commit).
        await this.deps.commits.ensureRetrying(job.ticketId, job.repository, [job.base, ...job.sources.map((s) => s.commit)], {
          signal, onRetry: (err, ms) => this.deps.log.warn({ ticket: job.ticketId, join: job.joinId, err: errorMessage(err), retryInMs: ms }, 'could not fetch the merge\'s commits; retrying'),
        });
        const outcome = await mergeSources({
          repoDir: job.repoDir, sandboxDir, base: job.base, sources: job.sources,
          who: { name: 'Omoi', email: 'omoi@localhost', time: job.time },
          resolverCommand: job.resolverCommand ?? undefined, checkCommand: job.checkCommand ?? undefined, maxConflictsAutoResolve: job.maxConflictsAutoResolve ?? undefined,
          logFile: path.join(logDir, `merge-${job.joinId}-${job.attempt}.log`), signal, isolation: this.deps.isolation, network: job.network, breakers: this.deps.breakers,
        });
        // Durable off this node before `merge.finished` announces it (src/git/commit-store.ts).
        // While NATS is away this waits (no crash: an outage is not the merge's failure).
        if (outcome.ok) {
          await this.deps.commits.saveRetrying(job.ticketId, outcome.commit, [...job.sources.map((s) => s.commit), job.base], {
            signal, onRetry: (err, ms) => this.deps.log.warn({ merge: `${job.ticketId}/${job.joinId}/${job.attempt}`, err: errorMessage(err), retryInMs: ms }, 'could not save the merge commit to the object store; retrying'),
          });
        }
        return outcome;
      } finally {
        await rm(sandboxDir, { recursive: true, force: true }).catch(() => undefined);
      }
    });
  }
}

/** How long a reported merge counts as in hand before its join, still `merging`, is re-driven (ms). */
const REPORTED_GRACE_MS = 60_000;

function joinKey(ticketId: string, joinId: string, attempt: number): string {
  return `${ticketId}/${joinId}/${attempt}`;
}

function toPayload(job: MergeJob, outcome: MergeOutcome): Record<string, unknown> {
  const a = outcome.attempt;
  return {
    ticket_id: job.ticketId, join_id: job.joinId, attempt: job.attempt, ok: outcome.ok,
    ...(outcome.ok ? { commit: outcome.commit } : { failure: MergeFailure.conflict, reason: outcome.reason }),
    order: a.order, conflicts: a.conflicts, resolutions: a.resolutions, files: outcome.ok ? [] : outcome.files,
    resolver_output: a.resolverOutput.slice(-20_000), duration_ms: Math.round(a.durationMs),
  };
}
