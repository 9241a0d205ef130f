import { stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, TerminalError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { importSandboxObjects, setBranch, type CommitStore } from '../git/index.ts';
import { executeTask, SandboxManager, SandboxPool, taskLogFile, type Isolation, type Sandbox, type SandboxPoolOptions } from '../sandbox/index.ts';
import type { Assignment } from '../actors/agent-actor.ts';
import { attemptUsage } from './attempt-usage.ts';
import { checkFailed, checkReport } from './check-report.ts';
import { maskSecrets } from '../redact.ts';
import type { PublishCommand } from './command-publisher.ts';
import type { Breakers } from '../breakers/index.ts';
import type { OpenTaskApi, TaskApiFactory } from '../task-api/index.ts';
import { FAST_FAILURE_MS, programOf, throughBreaker } from '../breakers/index.ts';

/**
 * The executor of a node's local agent. `run` (called after the commit that recorded the
 * assignment) queues the attempt behind at most `capacity` concurrent ones, then:
 * `task.started` → a sandbox (a repository of its own borrowing the objects of
 * `<dataDir>/repos/<ticket>`, on the task branch at the assignment's base; from the node's
 * `SandboxPool`: a reset warm one or a fresh one) → the attempt's task API opened (`taskApi`:
 * the command may add tasks, split itself, report progress; closed as soon as the command ends)
 * → `executeTask` (with the task's `check`, if
 * any: a failed one is `task.fail` with reason `check_failed`, see `checkReport`) → ownership check (strict:
 * violations fail the attempt, not retryable; lenient: allowed) → the task's objects imported
 * into the clone and the clone's task branch moved to its commit → `task.complete` or `task.fail` (with the
 * attempt's `usage`: its measured wall time, and what its result file's `usage` says), published
 * to the ticket's partition with id `task-result:<ticket>:<task>:<attempt>` (one result per
 * attempt, deduplicated) through `publish`, the node's `effectPublisher`: it resolves only once
 * the report is durable (in JetStream or in the outbox, which the sweep re-drives), so a NATS
 * outage delays a report but never loses it, and the attempt stays in `liveKeys()` until then
 * (the deadline check leaves it alone). On every path the sandbox goes back to the pool, or is removed when
 * in doubt (the attempt was killed, timed out, or the executor failed). Never throws.
 *
 * Lifetime: in memory; a crash loses the running attempts, which `agent.wake` fails on recovery
 * (`liveKeys()` tells it which ones still run here).
 */
/** How long an attempt that reported counts as live (its ticket handles the report well within it). */
const REPORTED_MS = 10 * 60_000;

export class LocalExecutor {
  private readonly live = new Set<string>();
  private readonly queue: Array<() => void> = [];
  private active = 0;
  private readonly sandboxes: SandboxManager;
  private readonly pool: SandboxPool;
  /** Set by `stop()`: no attempt starts any more. */
  private stopping = false;
  /**
   * One controller per executing attempt, aborted by `stop()` (killing its process tree). Not
   * one signal shared by all: each run would add an `abort` listener to it, dozens at once.
   */
  private readonly attempts = new Map<string, AbortController>();
  private readonly running = new Set<Promise<void>>();
  /** Attempts stopped by `stopAttempt` before they started: they never will. */
  private readonly unwanted = new Set<string>();
  /** Attempts whose report is durable, by when (see `liveKeys`). */
  private readonly reported = new Map<string, number>();

  /**
   * `pool`: the sandbox pool's bounds (see `SandboxPool`); absent or `size: 0` → a sandbox per
   * attempt. `isolation`: how task commands run (src/sandbox/isolation.ts; decided at node start).
   */
  constructor(private readonly deps: {
    dataDir: string; publish: PublishCommand; log: Logger; capacity: number; agentTemplate?: string;
    pool?: Omit<SandboxPoolOptions, 'onResetFailure'>; isolation: Isolation;
    /** Where commits travel between nodes: the base fetched before the task, its commit saved before the report. */
    commits: CommitStore;
    /** The node's circuit breakers: an agent command that keeps failing fast opens its `agent_command` breaker. */
    breakers?: Breakers;
    /**
     * Told (at most every `progressEveryMs`) that a running attempt's command wrote output since
     * the last look: the node reports `task.progress`, so an attempt that works is not stalled.
     */
    progress?: (ref: { ticket_id: string; task_id: string; attempt: number }) => void;
    progressEveryMs?: number;
    /** Publishes a running attempt's output as it grows, for dashboards on any node (`TaskOutput`); absent: not published. */
    output?: { publishWhileRunning(ref: { ticket_id: string; task_id: string; attempt: number }): { stop(): Promise<void> } };
    /** The node's secrets (its API token), masked in the check output a report carries. */
    secrets?: string[];
    /** Opens each attempt's task API (src/task-api) for exactly as long as its command runs; absent: tasks get none. */
    taskApi?: TaskApiFactory;
  }) {
    this.sandboxes = new SandboxManager(path.join(deps.dataDir, 'sandboxes'));
    this.pool = new SandboxPool(this.sandboxes, {
      ...(deps.pool ?? { size: 0, idleMs: 0 }),
      onResetFailure: (dir, err) => deps.log.warn({ sandbox: dir, err: errorMessage(err) }, 'pooled sandbox failed its reset; removed, a fresh one used'),
    });
  }

  /** Drops the pooled sandboxes of a repository about to be removed (see `SandboxPool.forget`). */
  forgetRepository(repoDir: string): Promise<void> {
    return this.pool.forget(repoDir);
  }

  /**
   * Removes every sandbox (task and merge) a crashed earlier process left in the data dir.
   * Call at start-up, before any attempt or merge runs; returns the removed sandbox ids.
   */
  async sweep(): Promise<string[]> {
    return this.sandboxes.sweep(new Set());
  }

  /**
   * Attempts (`<ticket>/<task>/<attempt>`) queued or executing on this node, and those that
   * reported in the last `REPORTED_MS`: their result is durable but its ticket may not have
   * handled it yet, so recovery (`agent.wake`) and the deadline check must not take them for
   * lost (under load, a lease lapse re-wakes the agent in that window). Forgotten once their
   * ticket ends them (`stopAttempt`).
   */
  liveKeys(): string[] {
    const since = Date.now() - REPORTED_MS;
    for (const [key, at] of this.reported) if (at < since) this.reported.delete(key);
    return [...new Set([...this.live, ...this.reported.keys()])];
  }

  run(a: Assignment): void {
    const key = `${a.ticket_id}/${a.task_id}/${a.attempt}`;
    if (this.live.has(key)) return;
    this.live.add(key);
    const job = this.slot()
      .then(() => (this.stopping || this.unwanted.has(key) ? undefined : this.execute(a, key)))
      // Only when the node stops before the report is durable: recovery (`agent.wake`) re-drives the attempt.
      .catch((err) => this.deps.log.error({ ticket: a.ticket_id, task: a.task_id, err: errorMessage(err) }, 'could not report task result'))
      .finally(() => {
        this.live.delete(key);
        this.unwanted.delete(key);
        this.active--;
        this.running.delete(job);
        this.queue.shift()?.();
      });
    this.running.add(job);
  }

  /**
   * Stops one attempt (`<ticket>/<task>/<attempt>`) its ticket no longer wants (cancelled,
   * superseded): a running one has its process tree killed (it then reports a failure the
   * ticket ignores as stale), a queued one never starts. A no-op for an attempt not here.
   */
  stopAttempt(key: string): void {
    this.reported.delete(key);
    if (!this.live.has(key)) return;
    this.unwanted.add(key);
    this.attempts.get(key)?.abort();
  }

  /**
   * Stops running attempts (their process trees are killed; each reports a retryable failure so
   * the task runs again elsewhere) and waits for them. Queued attempts do not start; the ticket's
   * recovery reschedules them. Safe to call twice.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const attempt of this.attempts.values()) attempt.abort();
    for (const release of this.queue.splice(0)) release();
    await Promise.allSettled([...this.running]);
    await this.pool.close();
  }

  private slot(): Promise<void> {
    if (this.active < this.deps.capacity) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push(() => { this.active++; resolve(); }));
  }

  private async execute(a: Assignment, key: string): Promise<void> {
    const abort = new AbortController();
    this.attempts.set(key, abort);
    try {
      await this.executeWith(a, abort.signal);
      this.reported.set(key, Date.now());
    } finally {
      this.attempts.delete(key);
    }
  }

  /**
   * Runs `work` while looking at the size of the command's output every `progressEveryMs`: when
   * it grew since the last look, `progress` is told (output is progress: not a stalled attempt).
   * Meanwhile `output` publishes what the command prints, and that it ended once `work` is done.
   */
  private async watchingOutput<T>(ref: { ticket_id: string; task_id: string; attempt: number }, logFile: string, work: () => Promise<T>): Promise<T> {
    const { progress, progressEveryMs = 10_000 } = this.deps;
    const published = this.deps.output?.publishWhileRunning(ref);
    if (!progress) {
      try {
        return await work();
      } finally {
        await published?.stop();
      }
    }
    let size = 0;
    const look = () => void stat(logFile).then((st) => {
      if (st.size <= size) return;
      size = st.size;
      progress(ref);
    }, () => undefined);
    const timer = setInterval(look, progressEveryMs);
    timer.unref();
    try {
      return await work();
    } finally {
      clearInterval(timer);
      await published?.stop();
    }
  }

  private async executeWith(a: Assignment, signal: AbortSignal): Promise<void> {
    const { publish, log, dataDir } = this.deps;
    const ref = { ticket_id: a.ticket_id, task_id: a.task_id, attempt: a.attempt };
    const resultId = `task-result:${a.ticket_id}:${a.task_id}:${a.attempt}`;
    await publish('task.started', ref, `task-started:${a.ticket_id}:${a.task_id}:${a.attempt}`);
    const repoDir = path.join(dataDir, 'repos', a.ticket_id);
    let sandbox: Sandbox | undefined;
    let api: OpenTaskApi | undefined;
    let reusable = false; // the attempt's process ended on its own: its sandbox may go back to the pool
    let outcome: { type: 'task.complete' | 'task.fail'; payload: Record<string, unknown> };
    // The attempt's wall time, always reported; tokens and cost only if its result file says (`usage`).
    const startedAt = performance.now();
    let usageFrom: { result?: unknown; resultFile?: string } = {};
    try {
      // This node may never have seen the ticket, or lack the base (another node's commit).
      if (a.repository) {
        await this.deps.commits.ensureRetrying(a.ticket_id, a.repository, [a.base], {
          signal, onRetry: (err, ms) => log.warn({ ticket: a.ticket_id, task: a.task_id, attempt: a.attempt, err: errorMessage(err), retryInMs: ms }, 'could not fetch the task\'s base; retrying'),
        });
      }
      sandbox = await this.pool.acquire(repoDir, `task-${a.ticket_id}-${a.task_id}-${a.attempt}`, a.branch, a.base);
      const logDir = path.join(dataDir, 'logs', a.ticket_id, `${a.task_id}-${a.attempt}`);
      // The attempt's own task API (src/task-api), open while its command runs. A task that does
      // not use it must not fail for it: without one, `omoi-task` says there is none (exit 3).
      api = await this.deps.taskApi?.open(ref).catch((err) => {
        log.warn({ ticket: a.ticket_id, task: a.task_id, attempt: a.attempt, err: errorMessage(err) }, 'could not open the task API; the task runs without one');
        return undefined;
      });
      const execute = () => this.watchingOutput(ref, taskLogFile(logDir, a.task_id), () => executeTask({
        sandbox: sandbox!, task: { id: a.task_id, ticketId: a.ticket_id, kind: a.kind as 'command' | 'agent', run: a.run, owns: a.owns, ...(a.check ? { check: a.check } : {}) },
        context: a.context, agentTemplate: this.deps.agentTemplate, timeoutMs: a.timeout_ms, attempt: a.attempt, signal, isolation: this.deps.isolation, network: a.network,
        logDir, env: api?.env, writable: api ? [api.dir] : [],
        who: { name: 'Omoi', email: 'omoi@localhost', time: new Date() },
      }));
      // An agent task runs the node's agent command: one that keeps exiting non-zero at once is
      // broken (not installed, no credentials, its service down). Its breaker opens, and further
      // agent tasks fail retryably (`circuit_open`) without starting it. Slow failures never count.
      const template = this.deps.agentTemplate;
      const started = performance.now();
      const result = a.kind === 'agent' && template
        ? await throughBreaker(this.deps.breakers, 'agent_command', programOf(template), execute,
          (r) => !r.ok && !r.timedOut && r.exitCode !== null && r.exitCode !== 0 && !signal.aborted && performance.now() - started < FAST_FAILURE_MS,
          (r) => `exited with ${r.exitCode} within ${FAST_FAILURE_MS} ms: ${r.tail.trim().split('\n').at(-1)?.slice(0, 200) ?? ''}`)
        : await execute();
      // The command (and its check) has ended: its task API goes with it (a call from now on finds no socket).
      await api?.close();
      reusable = !result.timedOut && result.exitCode !== null && !signal.aborted && !result.check?.timedOut; // not killed
      usageFrom = { result: result.result, resultFile: result.resultFile };
      const secrets = this.deps.secrets ?? [];
      if (checkFailed(result.check)) {
        // The task did its work but its check (tests, linters) refused it: retried with the check's output in the next context.
        const check = checkReport(result.check!, secrets);
        outcome = { type: 'task.fail', payload: { ...ref, error: `${result.error}\n${check.output}`.slice(0, 20_000), retryable: true, reason: 'check_failed', check } };
      } else if (!result.ok) {
        outcome = { type: 'task.fail', payload: { ...ref, error: maskSecrets(`${result.error ?? 'failed'}\n${result.tail}`, secrets).slice(0, 20_000), retryable: true } };
      } else if (result.violations.length && a.ownership !== 'lenient') {
        outcome = { type: 'task.fail', payload: { ...ref, error: `ownership_violation: changed files outside its claims: ${result.violations.join(', ')}`, retryable: false, violations: result.violations } };
      } else {
        // The commit is in the sandbox's repository (whichever branch the task left checked
        // out there): into the clone with it, verified, then the clone's task branch.
        await importSandboxObjects(sandbox.dir, sandbox.cloneGitDir);
        await setBranch(repoDir, a.branch, result.commit);
        // Durable off this node before `task.complete` announces it (src/git/commit-store.ts);
        // while NATS is away that waits (the attempt stays live here) rather than failing it.
        await this.deps.commits.saveRetrying(a.ticket_id, result.commit, [a.base], {
          signal, onRetry: (err, ms) => log.warn({ ticket: a.ticket_id, task: a.task_id, attempt: a.attempt, err: errorMessage(err), retryInMs: ms }, 'could not save the task\'s commit to the object store; retrying'),
        });
        outcome = {
          type: 'task.complete',
          payload: {
            ...ref, commit: result.commit, result: result.result ?? {}, ...(result.violations.length ? { ownership_warnings: result.violations } : {}),
            ...(result.check ? { check: { exit_code: result.check.exitCode } } : {}),
          },
        };
      }
    } catch (err) {
      reusable = false; // an executor error: the sandbox is removed, not pooled
      log.warn({ ticket: a.ticket_id, task: a.task_id, attempt: a.attempt, err: errorMessage(err) }, 'task execution failed');
      // No node of this configuration could run it: retrying would only fail again.
      const retryable = !(err instanceof TerminalError && err.code === 'sandbox_unavailable');
      outcome = { type: 'task.fail', payload: { ...ref, error: `executor_error: ${errorMessage(err)}`.slice(0, 20_000), retryable } };
    } finally {
      await api?.close();
      if (sandbox) await (reusable ? this.pool.release(sandbox) : this.pool.destroy(sandbox));
    }
    const { usage, warning } = await attemptUsage(performance.now() - startedAt, usageFrom);
    if (warning) log.warn({ ticket: a.ticket_id, task: a.task_id, attempt: a.attempt }, warning);
    await publish(outcome.type, { ...outcome.payload, usage }, resultId);
  }
}
