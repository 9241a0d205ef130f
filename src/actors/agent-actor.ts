import { addCharge, budgetFrom, changeBudget, crossings, isOverBudget, NO_SPEND, type BudgetDefaults, type Crossing } from '../budget/index.ts';
import { NotFoundError, TerminalError } from '../errors.ts';
import { failpoint } from '../failpoints.ts';
import { AgentEntity, type AgentControlRecord, type AgentRow, type EntityManager } from '../persistence/index.ts';
import { emit, send } from '../messaging/typed.ts';
import { ActorType, agentOfSource, publicKeyOf, Subjects, type AgentControlMessage, type PayloadOf } from '../protocol/index.ts';
import type { CommandMail } from './actor-runtime.ts';
import type { ActorContext, EntityBehavior } from './entity-host.ts';
import { nodeOfLocalAgent } from './local-agent.ts';
import { checkCompatibility, DEFAULT_COMPATIBILITY, type CompatibilityPolicy } from '../agents/compatibility.ts';

/** Heartbeat supervision limits (ms) and the restart policy of agents that come back. */
export interface AgentPolicy {
  /** A remote agent without a first heartbeat this long after registering is removed (default 60 s). */
  registrationTimeoutMs: number;
  /** No heartbeat this long → `degraded` (default 30 s). */
  degradedAfterMs: number;
  /** No heartbeat this long → `failed`; its tasks go back to the queue (default 90 s). */
  failedAfterMs: number;
  /** A failed agent may come back (heartbeat) only this long after it failed (default 10 s). */
  restartCooldownMs: number;
  /** ...and at most this many times (default 3); then it stays `failed`. */
  restartMax: number;
  /** A stop a remote agent has not acknowledged this long frees its slot anyway, with an `agent.stopped` `unacknowledged` event (default 60 s). */
  stopAckTimeoutMs?: number;
}


/** What an `agent.assign` carries (its type derived from the protocol's schema). */
export type Assignment = PayloadOf<'agent.assign'>;

/** The commands of an existing agent (`agent.register` may create one). */
type AgentCommand = 'agent.heartbeat' | 'agent.deregister' | 'agent.drain' | 'agent.undrain' | 'agent.rotate_key' | 'agent.assign' | 'agent.task_ended' | 'agent.stop_acknowledged' | 'agent.check' | 'agent.wake' | 'agent.usage' | 'agent.set_budget'
  | 'agent.shutdown' | 'agent.broadcast' | 'agent.control_acknowledged';

export interface AgentDeps {
  policy: AgentPolicy;
  /** Runs an assignment of this node's local agent here (after the commit). */
  runLocal: (a: Assignment) => void;
  /**
   * This node's local agent (`local-<node>`). Another node's local agent runs its assignments
   * on its own node (they are sent there, like a remote agent's); only its node knows which
   * of its attempts still run. Absent: every local agent is this node's (tests of one node).
   */
  localAgentId?: string;
  /** Whether the node of a local agent is alive (heartbeat within its lease TTL), read in the message's transaction. */
  nodeAlive?: (nodeId: string, ctx: ActorContext) => Promise<boolean>;
  /**
   * Stops attempt `<ticket>/<task>/<attempt>` of a local agent if it still runs or waits on this
   * node (after the commit of its `agent.task_ended`: it was cancelled or superseded); a no-op
   * for an attempt that already ended.
   */
  stopLocal?: (key: string) => void;
  /** Attempts this node's executor holds now (queued, running or reported), for `agent.wake`. */
  liveLocal?: () => string[];
  /** Told whenever an agent row is written (in the transaction, and again if it rolls back). */
  agentChanged?: () => void;
  /** Warn share of budgets that do not set one (OMOI_BUDGET_WARN_SHARE). */
  budgetDefaults: BudgetDefaults;
  /** What a registration must meet (src/agents/compatibility.ts); absent: the defaults, nothing else checked. */
  compatibility?: CompatibilityPolicy;
}

const LIVE = new Set(['registered', 'healthy', 'degraded']);
const NOTHING_BUT_DEFAULTS: CompatibilityPolicy = { ranges: DEFAULT_COMPATIBILITY, commandSha256: null, minDiskPerSlotBytes: 0 };
/** The reason of the `agent.status` event that tells an agent's key was replaced. */
export const KEY_ROTATED = 'public key rotated';
const isAgentCommand = (type: string): type is AgentCommand =>
  ['agent.heartbeat', 'agent.deregister', 'agent.drain', 'agent.undrain', 'agent.rotate_key', 'agent.assign', 'agent.task_ended', 'agent.stop_acknowledged', 'agent.check', 'agent.wake', 'agent.usage', 'agent.set_budget', 'agent.shutdown', 'agent.broadcast', 'agent.control_acknowledged'].includes(type);
/** Controls kept in `AgentRow.controls` (the newest; every unacknowledged one is kept too). */
const CONTROLS_KEPT = 20;
/** Default of `AgentPolicy.stopAckTimeoutMs`. */
const STOP_ACK_TIMEOUT_MS = 60_000;
const keyOf = (p: { ticket_id: string; task_id: string; attempt: number }) => `${p.ticket_id}/${p.task_id}/${p.attempt}`;

/**
 * AgentActor: one per agent (`omoi_agent` row). Registration, heartbeats and the supervision
 * verdicts (`agent.check` from the node's timer), the attempts it runs (`running`:
 * `<ticket>/<task>/<attempt>`), and what happens to them when the agent is lost: each gets a
 * retryable `task.fail` (`agent_lost`), so its ticket queues it again for another agent.
 * Local agents (`local-<nodeId>`) start `healthy`, run assignments through the node's executor
 * and are exempt from heartbeat checks (their node is their heartbeat); on recovery
 * (`agent.wake`) the attempts no process runs any more are failed, once each, unless their
 * result is kept in the outbox (reported while NATS was away): the sweep delivers that.
 */
export class AgentBehavior implements EntityBehavior<AgentRow | undefined, CommandMail> {
  readonly type = ActorType.AgentActor;

  constructor(private readonly deps: AgentDeps) {}

  async hydrate(em: EntityManager, id: string): Promise<AgentRow | undefined> {
    const row = await em.findOne(AgentEntity, { id }, { disableIdentityMap: true });
    return row ? { ...row } : undefined; // a plain copy: the ORM's change tracking would stay alive with the actor
  }

  /** One typed handler per command of an existing agent: the agent row after it. */
  private readonly handlers: { [T in AgentCommand]: (agent: AgentRow, p: PayloadOf<T>, ctx: ActorContext) => AgentRow | Promise<AgentRow> } = {
    'agent.heartbeat': (agent, _p, ctx) => this.heartbeat(agent, ctx),
    // A shutting-down agent that deregisters (it finished, or gave up its attempts) was shut down.
    'agent.deregister': (agent, p, ctx) => this.lose(agent, 'removed', agent.shutting_down ? 'shutdown' : p.reason ?? 'deregistered', ctx),
    'agent.drain': (agent, p, ctx) => this.drain(agent, true, p.reason, ctx),
    'agent.undrain': (agent, p, ctx) => this.drain(agent, false, p.reason, ctx),
    'agent.shutdown': (agent, p, ctx) => {
      this.refuseRemoved(agent, 'shut down');
      if (agent.shutting_down) return agent;
      const drained = this.drain(agent, true, p.reason ?? 'shutdown', ctx);
      return this.control({ ...drained, shutting_down: true }, { kind: 'shutdown', control_id: ctx.scope.cause.id, reason: p.reason }, ctx);
    },
    'agent.broadcast': (agent, p, ctx) => {
      this.refuseRemoved(agent, 'broadcast to');
      if (controlsOf(agent).some((c) => c.control_id === p.control_id)) return agent;
      return this.control(agent, { kind: 'broadcast', control_id: p.control_id, message: p.message }, ctx);
    },
    'agent.control_acknowledged': (agent, p, ctx) => {
      const control = controlsOf(agent).find((c) => c.control_id === p.control_id);
      // Unknown, not asking for one, or acknowledged before (a redelivery): nothing changes.
      if (!control || (control.status !== 'awaiting_ack' && control.status !== 'overdue')) return agent;
      const acknowledged: AgentControlRecord = { ...control, status: 'acknowledged', acknowledged_at: ctx.scope.now.toISOString() };
      return { ...agent, controls: controlsOf(agent).map((c) => (c === control ? acknowledged : c)) };
    },
    'agent.rotate_key': (agent, p, ctx) => {
      // The edge checked that its current key signed it, or a node sent it (an admin over HTTP).
      if (agent.kind !== 'remote' || agent.status === 'removed') {
        throw new TerminalError('agent_not_rotatable', `agent ${agent.id} is ${agent.kind === 'remote' ? 'removed' : 'a node\'s own agent'}: it has no key to rotate`, { agent_id: agent.id });
      }
      return this.withKey(agent, p.public_key, ctx);
    },
    'agent.assign': (agent, a, ctx) => {
      if (agent.kind === 'local' && this.isHere(agent.id)) {
        ctx.scope.uow.afterCommit(() => {
          failpoint('agent.offer'); // a test's stand-in for an offer lost after its commit (the attempt deadline re-drives it)
          this.deps.runLocal(a);
        });
      } else {
        // A remote agent's, or another node's local agent's: on the agent's assignment subject,
        // stored by JetStream (stream OMOI_EVT) and re-driven by the outbox until it is.
        ctx.scope.offer(Subjects.agentAssignments(a.agent_id), a, `assign:${a.ticket_id}:${a.task_id}:${a.attempt}`);
      }
      return agent.running.includes(keyOf(a)) ? agent : { ...agent, running: [...agent.running, keyOf(a)] };
    },
    'agent.task_ended': (agent, p, ctx) => {
      const key = keyOf(p);
      // Ended for its ticket (cancelled, or superseded by a retry): a process still running it must not go on.
      if (agent.kind === 'local' && this.isHere(agent.id)) {
        if (this.deps.stopLocal) ctx.scope.uow.afterCommit(() => this.deps.stopLocal!(key));
      } else if (p.stop) {
        // It runs elsewhere (a remote agent, another node): told there, durably, like its assignment.
        ctx.scope.offer(Subjects.agentStops(agent.id), { agent_id: agent.id, ticket_id: p.ticket_id, task_id: p.task_id, attempt: p.attempt }, `stop:${p.ticket_id}:${p.task_id}:${p.attempt}`);
        // A remote agent may still be working on it: its slot stays taken until it acknowledges
        // the stop (`agent.stop_acknowledged`), or the acknowledgement is overdue (`agent.check`).
        if (agent.kind === 'remote' && agent.running.includes(key)) {
          const stopping = stopsOf(agent);
          if (stopping.some((s) => s.key === key)) return agent;
          return { ...agent, stopping: [...stopping, { key, at: ctx.scope.now.toISOString() }] };
        }
      }
      return { ...agent, running: agent.running.filter((k) => k !== key), stopping: stopsOf(agent).filter((s) => s.key !== key) };
    },
    'agent.stop_acknowledged': (agent, p, ctx) => {
      const key = keyOf(p);
      const stop = stopsOf(agent).find((s) => s.key === key);
      if (!stop) return agent; // not pending (acknowledged twice, or overdue and freed already)
      emit(ctx.scope, 'agent.stopped', { agent_id: agent.id, ticket_id: p.ticket_id, task_id: p.task_id, attempt: p.attempt, outcome: 'acknowledged', waited_ms: waited(stop, ctx.scope.now) });
      return { ...agent, running: agent.running.filter((k) => k !== key), stopping: stopsOf(agent).filter((s) => s.key !== key) };
    },
    'agent.check': (agent, _p, ctx) => this.check(agent, ctx.scope.now, ctx),
    // Once per attempt: its ticket sends it once, with the attempt's live report (its id derives from the report's), and a processed id is not handled again.
    'agent.usage': (agent, p, ctx) => {
      const spend = addCharge(agent.spend ?? NO_SPEND, p);
      const { crossed, marks } = crossings(agent.budget, spend, agent.budget_marks ?? {}, this.deps.budgetDefaults);
      this.announce(agent.id, crossed, ctx, p.ticket_id);
      return { ...agent, spend, budget_marks: marks, budget_exceeded: isOverBudget(agent.budget, spend) };
    },
    'agent.set_budget': (agent, p, ctx) => {
      const spend = agent.spend ?? NO_SPEND;
      const changed = changeBudget(agent.budget, p, agent.budget_marks ?? {});
      const { crossed, marks } = crossings(changed.budget, spend, changed.marks, this.deps.budgetDefaults);
      const exceeded = isOverBudget(changed.budget, spend);
      emit(ctx.scope, 'budget.changed', { scope: 'agent', id: agent.id, cost_usd: changed.budget?.cost_usd ?? null, wall_ms: changed.budget?.wall_ms ?? null, exceeded });
      this.announce(agent.id, crossed, ctx);
      return { ...agent, budget: changed.budget, budget_marks: marks, budget_exceeded: exceeded };
    },
    'agent.wake': async (agent, p, ctx) => {
      if (agent.kind !== 'local') return agent;
      if (!this.isHere(agent.id)) {
        // Another node's agent: its attempts run there, and only that node knows which still do.
        // While it lives it judges them (its attempt deadlines; a restart registers anew); once it
        // is gone, every attempt it ran is lost.
        if (await this.deps.nodeAlive?.(nodeOfLocalAgent(agent.id)!, ctx)) return agent;
        const reported = await this.keptResults(agent.running, ctx);
        for (const k of agent.running.filter((k) => !reported.has(k))) this.failAttempt(k, `agent_lost: the node of ${agent.id} is gone`, ctx);
        // Failed: nothing more is assigned to it until its node starts again (and registers it).
        const reason = 'its node is gone';
        if (agent.status !== 'failed') emit(ctx.scope, 'agent.status', { agent_id: agent.id, status: 'failed', reason, restarts: agent.restarts });
        return { ...agent, status: 'failed', reason, running: [] };
      }
      // The wake's list is a snapshot from when it was sent; an attempt assigned since then runs
      // here too (a local agent's actor is handled by the node that runs it): ask the executor now.
      const live = new Set<string>([...p.live, ...(this.deps.liveLocal?.() ?? [])]);
      const gone = agent.running.filter((k) => !live.has(k));
      // An attempt whose result its process kept in the outbox finished: the sweep delivers that result.
      const reported = await this.keptResults(gone, ctx);
      for (const k of gone.filter((k) => !reported.has(k))) this.failAttempt(k, 'agent_lost: the process running it is gone', ctx);
      return { ...agent, running: agent.running.filter((k) => live.has(k)) };
    },
  };

  async handle(agent: AgentRow | undefined, mail: CommandMail, ctx: ActorContext): Promise<{ state: AgentRow | undefined }> {
    const { env } = mail;
    // The codec validated each payload against its command's schema before it got here.
    if (env.type === 'agent.register') {
      const registered = await this.register(agent, env.payload as PayloadOf<'agent.register'>, env.source, ctx);
      // A shutting-down remote agent that registers again running nothing is done.
      const done = this.finishShutdown(registered, ctx);
      if (done !== registered) this.save(ctx, done);
      return { state: done };
    }
    if (!isAgentCommand(env.type)) throw new TerminalError('unsupported_command', `AgentActor cannot handle ${env.type}`);
    if (env.type === 'agent.assign' && (!agent || !LIVE.has(agent.status) || agent.shutting_down)) {
      // The agent went away (or was told to shut down: a ticket read a stale directory) between
      // the ticket's choice and now: the attempt goes back to the queue.
      const p = env.payload as PayloadOf<'agent.assign'>;
      const state = agent?.shutting_down && LIVE.has(agent.status) ? 'shutting down' : agent?.status ?? 'unknown';
      send(ctx.scope, 'task.fail', { ticket_id: p.ticket_id, task_id: p.task_id, attempt: p.attempt, error: `agent_unavailable: ${p.agent_id} is ${state}`, retryable: true });
      return { state: agent };
    }
    if (!agent) throw new NotFoundError('agent', (env.payload as { agent_id: string }).agent_id);
    const handler = this.handlers[env.type] as (agent: AgentRow, p: PayloadOf<AgentCommand>, ctx: ActorContext) => AgentRow | Promise<AgentRow>;
    const next = this.finishShutdown(await handler(agent, env.payload as PayloadOf<AgentCommand>, ctx), ctx);
    if (next === agent) return { state: agent };
    const saved = { ...next, updated_at: ctx.scope.now, version: agent.version + 1 };
    this.save(ctx, saved);
    return { state: saved };
  }

  async markFailed(em: EntityManager, id: string, reason: string): Promise<void> {
    await em.nativeUpdate(AgentEntity, { id }, { status: 'failed', reason, updated_at: new Date() });
    this.deps.agentChanged?.();
  }

  private async register(agent: AgentRow | undefined, p: PayloadOf<'agent.register'>, source: string, ctx: ActorContext): Promise<AgentRow> {
    const caps = p.capabilities;
    const dup = caps.find((c, i) => caps.indexOf(c) !== i);
    if (dup) throw new TerminalError('duplicate_capability', `capability ${JSON.stringify(dup)} is listed twice`, { capability: dup });
    if (p.public_key !== undefined) this.checkKey(p.agent_id, p.public_key);
    checkCompatibility(p, this.deps.compatibility ?? NOTHING_BUT_DEFAULTS);
    // Re-registering must not take an agent over: turning a node's local agent into a remote
    // one (its assignments then go to an open subject), or replacing a remote agent's key. Only
    // a registration signed by the agent's current key (source `agent:<id>`, checked by the
    // ingress router) replaces it: a key rotation. A removed agent's id may be registered anew.
    let rotated = false;
    if (agent && agent.status !== 'removed') {
      const newKey = p.public_key ?? agent.public_key;
      rotated = agent.public_key !== null && newKey !== agent.public_key;
      if (agent.kind !== p.kind || (rotated && agentOfSource(source) !== agent.id)) {
        throw new TerminalError('agent_exists', `agent ${agent.id} is registered as a ${agent.kind} agent${agent.public_key ? ' with another key' : ''}; deregister it before registering it differently, or sign with its current key`, { agent_id: agent.id });
      }
    }
    if ((p.kind === 'local') !== (nodeOfLocalAgent(p.agent_id) !== undefined)) {
      throw new TerminalError('reserved_agent_id', p.kind === 'local'
        ? `a local agent is a node's own: its id is local-<node id>, not ${p.agent_id}`
        : `agent ids starting with local- are reserved for the nodes' own agents; register ${p.agent_id} under another id`, { agent_id: p.agent_id });
    }
    const now = ctx.scope.now;
    const local = p.kind === 'local';
    let running = agent && agent.status !== 'removed' ? agent.running : [];
    if (local && running.length) {
      // A node registers its local agent when it starts: nothing runs in a process that just
      // started, so the attempts recorded before were its previous process's, and are lost
      // (unless their result is kept in the outbox: the sweep delivers it).
      const reported = await this.keptResults(running, ctx);
      for (const k of running.filter((k) => !reported.has(k))) this.failAttempt(k, 'agent_lost: its node restarted', ctx);
      running = [];
    }
    const status = local ? 'healthy' : 'registered';
    // A budget given at registration replaces the one before, unless the agent registers itself
    // again (signed): an agent must not raise its own budget. Spend is the agent's for good.
    const spend = agent?.spend ?? NO_SPEND;
    const takesBudget = p.budget !== undefined && !(agent && agent.status !== 'removed' && agentOfSource(source) === agent.id);
    const budget = takesBudget ? budgetFrom(p.budget) : agent?.budget ?? null;
    const budgetMarks = takesBudget ? {} : agent?.budget_marks ?? {};
    const row: AgentRow = {
      id: p.agent_id, name: p.name, phase: p.phase, capabilities: caps, agent_version: p.version, kind: p.kind, public_key: p.public_key ?? agent?.public_key ?? null,
      status, capacity: p.capacity, running, stopping: local ? [] : (agent?.stopping ?? []).filter((st) => running.includes(st.key)), registered_at: now,
      last_heartbeat_at: local ? now : null, restarts: agent?.restarts ?? 0, restart_window_start: agent?.restart_window_start ?? null,
      reason: null, budget, spend, budget_marks: budgetMarks, budget_exceeded: isOverBudget(budget, spend), updated_at: now, version: (agent?.version ?? 0) + 1,
      // A person's drain outlives the agent's restarts and re-registrations (not its removal).
      // A node's start ends its own agent's shutdown (and the drain that came with it): a restart
      // is the way back. A remote agent's shutdown goes on; registered anew after its removal, it takes work again.
      draining: agent && agent.status !== 'removed' && !(local && agent.shutting_down) ? agent.draining ?? false : false,
      shutting_down: agent && agent.status !== 'removed' && !local ? agent.shutting_down ?? false : false,
      controls: agent?.controls ?? [],
    };
    this.save(ctx, row);
    emit(ctx.scope, 'agent.status', { agent_id: row.id, status: row.status, ...(rotated ? { reason: KEY_ROTATED } : {}) });
    return row;
  }

  /**
   * `agent.drain` / `agent.undrain`: the scheduler offers a draining agent nothing new
   * (src/dag/scheduler.ts `missingFor`); what it runs is left to finish. A repeat changes nothing.
   */
  private drain(agent: AgentRow, draining: boolean, reason: string | undefined, ctx: ActorContext): AgentRow {
    this.refuseRemoved(agent, draining ? 'drain' : 'undrain');
    if ((agent.draining ?? false) === draining) return agent;
    // An agent shutting down stays drained: its undrain would offer work to one about to leave.
    if (!draining && agent.shutting_down) throw new TerminalError('agent_shutting_down', `agent ${agent.id} is shutting down: it cannot be undrained (register it again once it is removed)`, { agent_id: agent.id });
    emit(ctx.scope, 'agent.status', { agent_id: agent.id, status: agent.status, draining, ...(reason ? { reason } : {}) });
    // The agent is told too (a shutdown tells it itself, as one control).
    if (ctx.scope.cause.type === 'agent.shutdown') return { ...agent, draining };
    return this.control({ ...agent, draining }, { kind: draining ? 'drain' : 'undrain', control_id: ctx.scope.cause.id, reason }, ctx);
  }

  private refuseRemoved(agent: AgentRow, what: string): void {
    if (agent.status === 'removed') throw new TerminalError('agent_removed', `agent ${agent.id} was removed (${agent.reason ?? 'no reason'}): there is nothing to ${what}`, { agent_id: agent.id });
  }

  /**
   * Tells the agent a control on `omoi.agent.<id>.control`, durably like its stops (the message
   * id derives from the control's, so a redelivered command offers it once), and records it:
   * drain and shutdown await the agent's `agent.control_acknowledged` (`agent.check` marks one
   * overdue). A node's own agent gets it the same way; its node acknowledges it (bootstrap.ts).
   */
  private control(agent: AgentRow, c: { kind: AgentControlMessage['kind']; control_id: string; reason?: string; message?: string }, ctx: ActorContext): AgentRow {
    const ack = c.kind === 'drain' || c.kind === 'shutdown';
    const payload: AgentControlMessage = {
      agent_id: agent.id, kind: c.kind, control_id: c.control_id, ack,
      ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}), ...(ctx.scope.cause.source ? { sent_by: ctx.scope.cause.source } : {}),
    };
    ctx.scope.offer(Subjects.agentControls(agent.id), payload, `control:${agent.id}:${c.control_id}`);
    const record: AgentControlRecord = { control_id: c.control_id, kind: c.kind, at: ctx.scope.now.toISOString(), status: ack ? 'awaiting_ack' : 'sent' };
    return { ...agent, controls: keepControls([...controlsOf(agent), record]) };
  }

  /** A shutting-down agent that runs nothing any more is removed (reason `shutdown`). */
  private finishShutdown(agent: AgentRow, ctx: ActorContext): AgentRow {
    if (!agent.shutting_down || agent.status === 'removed' || agent.running.length > 0) return agent;
    return this.lose(agent, 'removed', 'shutdown', ctx);
  }

  /** A rotation: the new key replaces the old one; the event says so (a public key only, never a private one). */
  private withKey(agent: AgentRow, publicKey: string, ctx: ActorContext): AgentRow {
    this.checkKey(agent.id, publicKey);
    if (publicKey === agent.public_key) return agent;
    emit(ctx.scope, 'agent.status', { agent_id: agent.id, status: agent.status, reason: KEY_ROTATED });
    return { ...agent, public_key: publicKey };
  }

  /** A key no message could ever be checked with is refused now, not at the agent's first message. */
  private checkKey(agentId: string, pem: string): void {
    try {
      publicKeyOf(pem, agentId);
    } catch (err) {
      throw new TerminalError('invalid_public_key', (err as Error).message, { agent_id: agentId });
    }
  }

  private heartbeat(agent: AgentRow, ctx: ActorContext): AgentRow {
    const now = ctx.scope.now;
    const { policy } = this.deps;
    if (agent.status === 'removed') throw new TerminalError('agent_removed', `agent ${agent.id} was removed (${agent.reason ?? 'no reason'}); register again`);
    if (agent.status === 'failed') {
      // A failed agent that heartbeats again is a restart: bounded by a cooldown and a maximum count.
      if (agent.restarts >= policy.restartMax) {
        throw new TerminalError('restart_limit', `agent ${agent.id} failed and already restarted ${agent.restarts} times (maximum ${policy.restartMax})`, { restarts: agent.restarts });
      }
      const since = now.getTime() - agent.updated_at.getTime();
      if (since < policy.restartCooldownMs) {
        throw new TerminalError('restart_cooldown', `agent ${agent.id} failed ${since} ms ago; it may restart after ${policy.restartCooldownMs} ms`, { since_ms: since });
      }
      const restarts = agent.restarts + 1;
      emit(ctx.scope, 'agent.status', { agent_id: agent.id, status: 'restarting', restarts });
      emit(ctx.scope, 'agent.status', { agent_id: agent.id, status: 'healthy', restarts });
      return { ...agent, status: 'healthy', restarts, restart_window_start: agent.restart_window_start ?? now, last_heartbeat_at: now, reason: null };
    }
    if (agent.status !== 'healthy') emit(ctx.scope, 'agent.status', { agent_id: agent.id, status: 'healthy' });
    return { ...agent, status: 'healthy', last_heartbeat_at: now, reason: null };
  }

  private check(before: AgentRow, now: Date, ctx: ActorContext): AgentRow {
    if (before.kind === 'local' || !LIVE.has(before.status)) return before;
    const agent = this.overdueControls(this.overdueStops(before, now, ctx), now, ctx);
    const { policy } = this.deps;
    if (agent.status === 'registered') {
      const waited = now.getTime() - agent.registered_at.getTime();
      return waited > policy.registrationTimeoutMs ? this.lose(agent, 'removed', `no first heartbeat within ${policy.registrationTimeoutMs} ms`, ctx) : agent;
    }
    const silent = now.getTime() - (agent.last_heartbeat_at ?? agent.registered_at).getTime();
    if (silent > policy.failedAfterMs) return this.lose(agent, 'failed', `no heartbeat for ${silent} ms`, ctx);
    if (silent > policy.degradedAfterMs && agent.status === 'healthy') {
      const reason = `no heartbeat for ${silent} ms`;
      emit(ctx.scope, 'agent.status', { agent_id: agent.id, status: 'degraded', reason });
      return { ...agent, status: 'degraded', reason };
    }
    return agent;
  }

  /**
   * Stops not acknowledged within `stopAckTimeoutMs`: their slots are freed anyway (the attempt
   * ended for its ticket long ago), each with an `agent.stopped` event (`unacknowledged`): the
   * agent may still be working on it, for a person (or an alert rule) to look at. The agent's
   * health is left to its heartbeats: an agent that lost a stop is not a dead one.
   */
  private overdueStops(agent: AgentRow, now: Date, ctx: ActorContext): AgentRow {
    const limit = this.deps.policy.stopAckTimeoutMs ?? STOP_ACK_TIMEOUT_MS;
    const overdue = stopsOf(agent).filter((s) => waited(s, now) > limit);
    if (!overdue.length) return agent;
    for (const stop of overdue) {
      const [ticket_id, task_id, attempt] = stop.key.split('/');
      emit(ctx.scope, 'agent.stopped', { agent_id: agent.id, ticket_id: ticket_id!, task_id: task_id!, attempt: Number(attempt), outcome: 'unacknowledged', waited_ms: waited(stop, now) });
    }
    const gone = new Set(overdue.map((s) => s.key));
    return { ...agent, running: agent.running.filter((k) => !gone.has(k)), stopping: stopsOf(agent).filter((s) => !gone.has(s.key)) };
  }

  /**
   * Drains and shutdowns not acknowledged within `stopAckTimeoutMs` (the stops' limit): marked
   * `overdue`, once each, with an `agent.control_overdue` event. Nothing else changes: the drain
   * holds on the scheduler's side whether the agent heard it or not.
   */
  private overdueControls(agent: AgentRow, now: Date, ctx: ActorContext): AgentRow {
    const limit = this.deps.policy.stopAckTimeoutMs ?? STOP_ACK_TIMEOUT_MS;
    const overdue = controlsOf(agent).filter((c) => c.status === 'awaiting_ack' && waited(c, now) > limit);
    if (!overdue.length) return agent;
    for (const c of overdue) emit(ctx.scope, 'agent.control_overdue', { agent_id: agent.id, control_id: c.control_id, kind: c.kind, waited_ms: waited(c, now) });
    const late = new Set(overdue);
    return { ...agent, controls: controlsOf(agent).map((c) => (late.has(c) ? { ...c, status: 'overdue' as const, overdue_at: now.toISOString() } : c)) };
  }

  /** The agent is gone (removed or failed): every attempt it ran goes back to its ticket's queue. */
  private lose(agent: AgentRow, status: 'removed' | 'failed', reason: string, ctx: ActorContext): AgentRow {
    // Attempts it was told to stop ended for their tickets already: only the others are failed.
    const stopping = new Set(stopsOf(agent).map((s) => s.key));
    for (const k of agent.running.filter((k) => !stopping.has(k))) this.failAttempt(k, `agent_lost: ${agent.id} ${status} (${reason})`, ctx);
    emit(ctx.scope, 'agent.status', { agent_id: agent.id, status, reason, restarts: agent.restarts });
    return { ...agent, status, reason, running: [], stopping: [] };
  }

  /** `budget.warning` / `budget.exceeded` of the agent's lines just crossed (src/budget/account.ts decides, once per limit value). */
  private announce(agentId: string, crossed: Crossing[], ctx: ActorContext, ticketId?: string): void {
    for (const c of crossed) {
      emit(ctx.scope, c.kind === 'warning' ? 'budget.warning' : 'budget.exceeded', {
        scope: 'agent', id: agentId, ...(ticketId ? { ticket_id: ticketId } : {}), measure: c.measure, spent: c.spent, limit: c.limit, share: c.share,
      });
    }
  }

  /** Whether a local agent is this node's own (see `AgentDeps.localAgentId`). */
  private isHere(agentId: string): boolean {
    return this.deps.localAgentId === undefined || this.deps.localAgentId === agentId;
  }

  /** The attempts (`<ticket>/<task>/<attempt>`) whose result is kept in the outbox (see `effectPublisher`). */
  private async keptResults(keys: string[], ctx: ActorContext): Promise<Set<string>> {
    if (!keys.length) return new Set();
    const ids = keys.map((k) => `task-result:${k.split('/').join(':')}`);
    const rows = await ctx.scope.em.getConnection().execute('select message_id from omoi_outbox where message_id in (?)', [ids], 'all', ctx.scope.em.getTransactionContext()) as Array<{ message_id: string }>;
    const kept = new Set(rows.map((r) => r.message_id));
    return new Set(keys.filter((_, i) => kept.has(ids[i])));
  }

  private failAttempt(key: string, error: string, ctx: ActorContext): void {
    const [ticket_id, task_id, attempt] = key.split('/');
    send(ctx.scope, 'task.fail', { ticket_id: ticket_id!, task_id: task_id!, attempt: Number(attempt), error, retryable: true });
  }

  private save(ctx: ActorContext, row: AgentRow): void {
    ctx.scope.uow.upsert(AgentEntity, ['id'], row);
    const changed = this.deps.agentChanged;
    if (changed) {
      changed();
      ctx.scope.uow.onRollback(changed);
    }
  }
}

/** Controls sent to the agent (see `AgentRow.controls`). */
function controlsOf(agent: AgentRow): AgentControlRecord[] {
  return agent.controls ?? [];
}

/** The newest `CONTROLS_KEPT` controls, and every older one still awaiting its acknowledgement. */
function keepControls(controls: AgentControlRecord[]): AgentControlRecord[] {
  const cut = controls.length - CONTROLS_KEPT;
  return controls.filter((c, i) => i >= cut || c.status === 'awaiting_ack');
}

/** Stops sent to the agent and not acknowledged yet (see `AgentRow.stopping`). */
function stopsOf(agent: AgentRow): Array<{ key: string; at: string }> {
  return agent.stopping ?? [];
}

function waited(stop: { at: string }, now: Date): number {
  return Math.max(0, now.getTime() - Date.parse(stop.at));
}

/** The agent policy from the node's configuration (`OMOI_AGENT_*` settings). */
export function agentPolicyFrom(config: {
  agentRegistrationTimeoutMs: number; agentDegradedAfterMs: number; agentFailedAfterMs: number; agentRestartCooldownMs: number; agentRestartMax: number;
  stopAckTimeoutMs?: number;
}): AgentPolicy {
  return {
    stopAckTimeoutMs: config.stopAckTimeoutMs,
    registrationTimeoutMs: config.agentRegistrationTimeoutMs,
    degradedAfterMs: config.agentDegradedAfterMs,
    failedAfterMs: config.agentFailedAfterMs,
    restartCooldownMs: config.agentRestartCooldownMs,
    restartMax: config.agentRestartMax,
  };
}
