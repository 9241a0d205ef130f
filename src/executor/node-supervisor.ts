import { errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { Database } from '../persistence/index.ts';
import { partitionOf } from '../protocol/index.ts';
import type { AgentPolicy } from '../actors/agent-actor.ts';
import { agentOfNode, LOCAL_AGENT_PREFIX } from '../actors/local-agent.ts';
import type { PublishCommand } from './command-publisher.ts';

/** The partitions this node holds now, with their lease epochs. */
export interface HeldPartitions { owned(): number[]; epoch(partition: number): number | undefined }

/**
 * A timer per node over the entities of the partitions it holds:
 * - **Recovery**: when a partition is newly held (or held under a new epoch), every open or
 *   running ticket of it gets `ticket.wake` (id `wake:<ticket>:<epoch>`) and every local agent
 *   of it `agent.wake` with the attempts still executing here (id `agent-wake:<agent>:<epoch>`).
 * - **Heartbeat supervision**: remote agents past a timeout get `agent.check` (the actor decides).
 * - **Attempt deadlines**: an `assigned` or `running` attempt whose last sign of life is older
 *   than `attemptSilenceMs` gets `task.expire` (id `expire:<ticket>:<task>:<attempt>`: once per
 *   attempt; the TicketActor requeues it). Signs of life: the attempt's last change of state
 *   (assigned, started); for a remote agent, once it started, the agent's heartbeat; for this
 *   node's local agent, the executor still holding the attempt (queued, running, or reporting).
 *   Attempts of this node's local agent are judged here whatever partition their ticket is in
 *   (only this node knows what its executor holds); a result kept in the outbox counts as
 *   reported. Remote agents' attempts are judged by the holder of the ticket's partition; local
 *   agents of other nodes by their node (a dead node's by `agent.wake`, and once its node has
 *   been silent longer than `attemptSilenceMs`, by the holder of the ticket's partition).
 * - **Nothing waits forever**: tickets with a task `ready` for more than two ticks (no agent
 *   was free, or a retry timer died with its node) get `ticket.wake` (not a ticket over budget:
 *   it waits for `ticket.set_budget`, which schedules it itself); so do tickets with a join
 *   `merging` for more than two ticks whose MergeActor is not alive here (it died with its
 *   JoinActor: a crash of the join, escalation), and the wake spawns it again.
 * - **Stuck work** (`sweepStalls`): running attempts with no output and no progress report for
 *   `taskStallMs` get `task.stall`; tickets unchanged for `ticketStallMs` get `ticket.stall`.
 * - **Stops, drains and shutdowns not acknowledged** by remote agents within `stopAckTimeoutMs`: `agent.check`.
 * Commands carry deterministic ids, so two ticks (or two nodes) produce each at most once per
 * epoch/time bucket. Failures are logged and retried on the next tick.
 */
export class NodeSupervisor {
  private readonly seen = new Map<number, number>();
  /** When the stall sweep last ran (it runs at most every `stallEveryMs`). */
  private lastStallSweep = 0;
  /** Attempts this node already sent `task.expire` for and that are still silent (metric counted once). */
  private readonly expired = new Set<string>();
  private timer?: NodeJS.Timeout;
  private ticking = false;

  constructor(
    private readonly deps: {
      db: Database; log: Logger; publish: PublishCommand; partitions: number; intervalMs: number; policy: AgentPolicy;
      held: () => HeldPartitions | undefined; liveAttempts: () => string[];
      /** This node's local agent, and the deadline of an attempt without a sign of life (ms). */
      localAgentId: string; attemptSilenceMs: number;
      /** A node whose heartbeat is older than this is gone: its local agent is woken (and fails what it ran). */
      nodeGoneAfterMs: number;
      /** Registers this node's local agent again (it was found `failed` while this node lives). */
      reviveLocalAgent?: () => Promise<void>;
      /** Counts expired attempts (`omoi_attempts_expired_total`). */
      expired: (status: string) => void;
      /** Whether the MergeActor of this join attempt is alive on this node. */
      liveMerge: (ticketId: string, joinId: string, attempt: number) => boolean;
      /** Stuck work (absent: not swept): a running attempt without output or progress this long, ms, and what to do with it. */
      stalls?: { taskStallMs: number; taskStallAction: 'alert' | 'restart'; ticketStallMs: number };
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      let held: HeldPartitions | undefined;
      try {
        held = this.deps.held();
      } catch {
        return; // the lease manager is not constructed yet
      }
      if (!held) return;
      const owned = new Map(held.owned().map((p) => [p, held!.epoch(p)!] as const));
      for (const p of [...this.seen.keys()]) if (!owned.has(p)) this.seen.delete(p);
      const fresh = [...owned].filter(([p, e]) => e !== undefined && this.seen.get(p) !== e);
      if (fresh.length) await this.recover(new Map(fresh));
      for (const [p, e] of fresh) this.seen.set(p, e);
      await this.sweep(new Set(owned.keys()));
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err) }, 'node supervisor tick failed');
    } finally {
      this.ticking = false;
    }
  }

  private async recover(partitions: Map<number, number>): Promise<void> {
    const { db, publish } = this.deps;
    const conn = db.em().getConnection();
    const tickets = await conn.execute(`select id from omoi_ticket where status in ('open', 'running')`) as Array<{ id: string }>;
    for (const { id } of tickets) {
      const epoch = partitions.get(partitionOf('ticket', id, this.deps.partitions));
      if (epoch !== undefined) await publish('ticket.wake', { ticket_id: id }, `wake:${id}:${epoch}`);
    }
    const agents = await conn.execute(`select id from omoi_agent where kind = 'local' and status <> 'removed'`) as Array<{ id: string }>;
    for (const { id } of agents) {
      const epoch = partitions.get(partitionOf('agent', id, this.deps.partitions));
      if (epoch !== undefined) await publish('agent.wake', { agent_id: id, live: this.deps.liveAttempts() }, `agent-wake:${id}:${epoch}`);
    }
  }

  /** Attempt deadlines (see the class comment). */
  private async expireSilent(owned: Set<number>, now: number): Promise<void> {
    const { db, publish, attemptSilenceMs, localAgentId } = this.deps;
    const conn = db.em().getConnection();
    const rows = await conn.execute(
      `select t.ticket_id, t.id, t.attempt, t.status, t.agent_id, t.updated_at, a.kind, a.last_heartbeat_at
         from omoi_task t join omoi_ticket k on k.id = t.ticket_id left join omoi_agent a on a.id = t.agent_id
        where k.status = 'running' and t.status in ('assigned', 'running') and t.updated_at < ?`,
      [new Date(now - attemptSilenceMs)]) as Array<{ ticket_id: string; id: string; attempt: number; status: string; agent_id: string | null; updated_at: Date; kind: string | null; last_heartbeat_at: Date | null }>;
    if (!rows.length) return;
    const live = new Set(this.deps.liveAttempts());
    // Local agents of nodes that are gone: nobody else would ever expire their attempts.
    const upNodes = new Set((await conn.execute(`select id from omoi_node where status = 'up' and heartbeat_at > now() - ?::interval`, [`${attemptSilenceMs} milliseconds`]) as Array<{ id: string }>).map((n) => agentOfNode(n.id)));
    const kept = new Set((await conn.execute(`select message_id from omoi_outbox where message_id in (?)`, [rows.map((r) => resultId(r))]) as Array<{ message_id: string }>).map((r) => r.message_id));
    for (const r of rows) {
      const agent = r.agent_id ?? '';
      // A local agent's attempts are judged by its own node; a remote agent's, and those of a
      // local agent whose node is gone, by the node holding the ticket.
      const local = r.kind === 'local' && (agent === localAgentId || upNodes.has(agent));
      if (local ? agent !== localAgentId : !owned.has(partitionOf('ticket', r.ticket_id, this.deps.partitions))) continue;
      if (local && live.has(`${r.ticket_id}/${r.id}/${r.attempt}`)) continue;
      if (kept.has(resultId(r))) continue; // its result is on its way (the outbox sweep)
      let lastSign = new Date(r.updated_at).getTime();
      if (!local && r.status === 'running' && r.last_heartbeat_at) lastSign = Math.max(lastSign, new Date(r.last_heartbeat_at).getTime());
      const silent = now - lastSign;
      if (silent <= attemptSilenceMs) continue;
      await publish('task.expire', { ticket_id: r.ticket_id, task_id: r.id, attempt: r.attempt, agent_id: agent, silent_ms: silent }, `expire:${r.ticket_id}:${r.id}:${r.attempt}`);
      const key = `${r.ticket_id}/${r.id}/${r.attempt}`;
      if (!this.expired.has(key)) this.deps.expired(r.status);
      this.expired.add(key);
    }
    // Forget attempts no longer silent (requeued, or reported meanwhile): the set stays small.
    const silentNow = new Set(rows.map((r) => `${r.ticket_id}/${r.id}/${r.attempt}`));
    for (const key of this.expired) if (!silentNow.has(key)) this.expired.delete(key);
  }

  /**
   * Stuck work (`stalls`), at most every quarter of the shorter stall time (and 10 s): a
   * `running` attempt of a running ticket held here whose last sign of life (its last change,
   * its last progress: a `task.progress`, or output of a local command) is older than
   * `taskStallMs` gets `task.stall` (once per attempt: `stalled_attempt`; id
   * `stall:<ticket>:<task>:<attempt>`); an open or running ticket whose last change (its row's or
   * a task's) is older than `ticketStallMs` gets `ticket.stall` (id `ticket-stall:<ticket>:<last
   * change>`: once per stall). The TicketActor judges both again and raises the events.
   */
  private async sweepStalls(owned: Set<number>, now: number): Promise<void> {
    const stalls = this.deps.stalls;
    if (!stalls) return;
    if (now - this.lastStallSweep < Math.min(10_000, Math.min(stalls.taskStallMs, stalls.ticketStallMs) / 4)) return;
    this.lastStallSweep = now;
    const { db, publish, partitions } = this.deps;
    const conn = db.em().getConnection();
    const held = (ticketId: string) => owned.has(partitionOf('ticket', ticketId, partitions));
    const tasks = await conn.execute(
      `select t.ticket_id, t.id, t.attempt, t.agent_id, greatest(t.updated_at, coalesce(t.progress_at, t.updated_at)) as last
         from omoi_task t join omoi_ticket k on k.id = t.ticket_id
        where k.status = 'running' and t.status = 'running' and t.stalled_attempt is distinct from t.attempt
          and greatest(t.updated_at, coalesce(t.progress_at, t.updated_at)) < ?`,
      [new Date(now - stalls.taskStallMs)]) as Array<{ ticket_id: string; id: string; attempt: number; agent_id: string | null; last: Date }>;
    for (const r of tasks) {
      if (!held(r.ticket_id)) continue;
      const last = new Date(r.last);
      await publish('task.stall', {
        ticket_id: r.ticket_id, task_id: r.id, attempt: r.attempt, ...(r.agent_id ? { agent_id: r.agent_id } : {}),
        silent_ms: Math.max(0, now - last.getTime()), since: last.toISOString(), action: stalls.taskStallAction,
      }, `stall:${r.ticket_id}:${r.id}:${r.attempt}`);
    }
    const tickets = await conn.execute(
      `select k.id, greatest(k.updated_at, coalesce(max(t.updated_at), k.updated_at)) as last
         from omoi_ticket k left join omoi_task t on t.ticket_id = k.id
        where k.status in ('open', 'running')
        group by k.id
       having greatest(k.updated_at, coalesce(max(t.updated_at), k.updated_at)) < ?
          and k.stalled_since is distinct from greatest(k.updated_at, coalesce(max(t.updated_at), k.updated_at))`,
      [new Date(now - stalls.ticketStallMs)]) as Array<{ id: string; last: Date }>;
    for (const r of tickets) {
      if (!held(r.id)) continue;
      const last = new Date(r.last);
      await publish('ticket.stall', { ticket_id: r.id, idle_ms: Math.max(0, now - last.getTime()), since: last.toISOString() }, `ticket-stall:${r.id}:${last.getTime()}`);
    }
  }

  /**
   * Remote agents held here with a stop (or a drain, a shutdown) not acknowledged in time get
   * `agent.check` (it frees the stop's slot, marks the control overdue).
   */
  private async overdueStops(owned: Set<number>, now: number, bucket: number): Promise<void> {
    const { db, publish, policy, partitions } = this.deps;
    const limit = policy.stopAckTimeoutMs ?? 60_000;
    const rows = await db.em().getConnection().execute(
      `select id, stopping, controls from omoi_agent where kind = 'remote' and status in ('registered', 'healthy', 'degraded')
          and (jsonb_array_length(stopping) > 0 or controls @> '[{"status": "awaiting_ack"}]')`,
    ) as Array<{ id: string; stopping: Array<{ at: string }>; controls: Array<{ at: string; status: string }> }>;
    for (const a of rows) {
      if (!owned.has(partitionOf('agent', a.id, partitions))) continue;
      const awaiting = [...a.stopping, ...a.controls.filter((c) => c.status === 'awaiting_ack')];
      if (awaiting.some((s) => now - Date.parse(s.at) > limit)) await publish('agent.check', { agent_id: a.id }, `agent-check:${a.id}:stops:${bucket}`);
    }
  }

  private async sweep(owned: Set<number>): Promise<void> {
    const { db, publish, policy, intervalMs } = this.deps;
    const conn = db.em().getConnection();
    const now = Date.now();
    const bucket = Math.floor(now / intervalMs);
    await this.expireSilent(owned, now);
    // This node's own agent, failed by another node that took this one for gone (a long stall).
    if (this.deps.reviveLocalAgent) {
      const [own] = await conn.execute(`select status from omoi_agent where id = ?`, [this.deps.localAgentId]) as Array<{ status: string }>;
      if (own?.status === 'failed') await this.deps.reviveLocalAgent();
    }
    // Local agents of nodes that stopped heartbeating: their wake fails what they ran and marks them failed.
    const orphans = await conn.execute(
      `select a.id from omoi_agent a left join omoi_node n on a.id = ? || n.id
        where a.kind = 'local' and a.status in ('healthy', 'degraded') and a.id <> ?
          and (n.id is null or n.status <> 'up' or n.heartbeat_at < now() - ?::interval)`,
      [LOCAL_AGENT_PREFIX, this.deps.localAgentId, `${this.deps.nodeGoneAfterMs} milliseconds`]) as Array<{ id: string }>;
    for (const { id } of orphans) {
      if (owned.has(partitionOf('agent', id, this.deps.partitions))) await publish('agent.wake', { agent_id: id, live: [] }, `agent-wake:${id}:gone:${bucket}`);
    }
    const agents = await conn.execute(`select id, status, registered_at, last_heartbeat_at from omoi_agent where kind <> 'local' and status in ('registered', 'healthy', 'degraded')`) as Array<{ id: string; status: string; registered_at: Date; last_heartbeat_at: Date | null }>;
    for (const a of agents) {
      if (!owned.has(partitionOf('agent', a.id, this.deps.partitions))) continue;
      const since = now - new Date(a.last_heartbeat_at ?? a.registered_at).getTime();
      const limit = a.status === 'registered' ? policy.registrationTimeoutMs : a.status === 'healthy' ? policy.degradedAfterMs : policy.failedAfterMs;
      if (since > limit) await publish('agent.check', { agent_id: a.id }, `agent-check:${a.id}:${a.status}:${bucket}`);
    }
    const stuck = await conn.execute(
      `select distinct t.ticket_id from omoi_task t join omoi_ticket k on k.id = t.ticket_id
        where k.status = 'running' and not k.budget_exceeded and t.status = 'ready' and t.ready_since < ?`, [new Date(now - 2 * intervalMs)]) as Array<{ ticket_id: string }>;
    for (const { ticket_id } of stuck) {
      if (owned.has(partitionOf('ticket', ticket_id, this.deps.partitions))) await publish('ticket.wake', { ticket_id }, `wake-ready:${ticket_id}:${bucket}`);
    }
    // Their own failures are logged: they must not hold back the sweeps below.
    await this.sweepStalls(owned, now).catch((err) => this.deps.log.warn({ err: errorMessage(err) }, 'stall sweep failed'));
    await this.overdueStops(owned, now, bucket).catch((err) => this.deps.log.warn({ err: errorMessage(err) }, 'overdue stop sweep failed'));
    const merging = await conn.execute(
      `select j.ticket_id, j.id, j.attempts from omoi_join j join omoi_ticket k on k.id = j.ticket_id
        where k.status = 'running' and j.status = 'merging' and j.updated_at < ?`, [new Date(now - 2 * intervalMs)]) as Array<{ ticket_id: string; id: string; attempts: number }>;
    const orphaned = new Set(merging.filter((j) => owned.has(partitionOf('ticket', j.ticket_id, this.deps.partitions)) && !this.deps.liveMerge(j.ticket_id, j.id, j.attempts)).map((j) => j.ticket_id));
    for (const ticket_id of orphaned) await publish('ticket.wake', { ticket_id }, `wake-merge:${ticket_id}:${bucket}`);
  }
}

/** The message id of an attempt's result (see `LocalExecutor`). */
function resultId(r: { ticket_id: string; id: string; attempt: number }): string {
  return `task-result:${r.ticket_id}:${r.id}:${r.attempt}`;
}
