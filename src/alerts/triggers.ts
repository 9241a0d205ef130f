import type { AlertKind } from './alert-kinds.ts';

/**
 * From domain events to alerts: a pure mapping, one event in, zero or more actions out.
 *
 * 1. An event of a type not listed here maps to nothing (`[]`): new events never break the consumer.
 * 2. An event of a listed type whose payload lacks what the mapping reads throws
 *    `MalformedTriggerEvent` (the consumer logs and drops it; it never retries a bad payload).
 * 3. Each condition has one fingerprint (`<kind>:<what>`): raises of it count on one open
 *    alert, and the event that says the condition is over clears that same fingerprint.
 * 4. Payload contracts of events defined elsewhere (`budget.*`, `task.stalled`,
 *    `ticket.stalled`) are read by field name only, so they need no import from here.
 */
export type AlertAction =
  | { op: 'raise'; kind: AlertKind; fingerprint: string; title: string; fields: Record<string, string> }
  | { op: 'clear'; fingerprint: string; reason: string };

/** What a trigger reads of an event: its type and payload. */
export interface TriggerEvent { type: string; payload: unknown }

/** A listed event whose payload the mapping cannot read: logged and dropped, never retried. */
export class MalformedTriggerEvent extends Error {
  override readonly name = 'MalformedTriggerEvent';
  constructor(readonly type: string, readonly field: string, detail: string) {
    super(`malformed_event: ${type}: ${field} ${detail}`);
  }
}

/** Fingerprints, in one place: a raise and its clear must build the same one. */
export const Fingerprints = {
  deadLetter: (code: string) => `dead_letter:${code}`,
  agent: (kind: 'agent_degraded' | 'agent_failed', agentId: string) => `${kind}:${agentId}`,
  taskBlocked: (ticket: string, task: string) => `task_blocked:${ticket}/${task}`,
  taskStalled: (ticket: string, task: string) => `task_stalled:${ticket}/${task}`,
  mergeUnresolved: (ticket: string, join: string) => `merge_unresolved:${ticket}/${join}`,
  ticketFailed: (ticket: string) => `ticket_failed:${ticket}`,
  ticketStalled: (ticket: string) => `ticket_stalled:${ticket}`,
  deliveryFailed: (ticket: string) => `delivery_failed:${ticket}`,
  actorEscalated: (actor: string, entity: string) => `actor_escalated:${actor}/${entity}`,
  budget: (kind: 'budget_warning' | 'budget_exceeded', scope: string, id: string) => `${kind}:${scope}/${id}`,
  nodeLost: (node: string) => `node_lost:${node}`,
  circuitOpen: (node: string, breaker: string, key: string) => `circuit_open:${node}/${breaker}/${key}`,
} as const;

type Mapping = (p: Reader) => AlertAction[];

/**
 * ALERTS_ON_ALERTS: the alerts' own failures (an AlertActor that escalated, an `alert.*`
 * command dead-lettered) raise no alert. Such an alert would be handled by an AlertActor too:
 * whatever broke the first would break it, and each failure would raise the next, forever.
 * They stay visible as `actor.supervision` events, dead letters and logs.
 */
const ALERT_ACTOR = 'AlertActor';
const isAlertCommand = (type: string | undefined) => type !== undefined && type.startsWith('alert.');

const raise = (kind: AlertKind, fingerprint: string, title: string, fields: Record<string, string | undefined>): AlertAction => ({
  op: 'raise', kind, fingerprint: clip(fingerprint, 300), title: clip(title, 500), fields: compact(fields),
});
const clear = (fingerprint: string, reason: string): AlertAction => ({ op: 'clear', fingerprint: clip(fingerprint, 300), reason: clip(reason, 2000) });

/** Every event type that raises or clears an alert, and how. */
const MAPPINGS: Record<string, Mapping> = {
  'error.rejected': (p) => {
    const id = p.optionalInt('dead_letter_id');
    if (id === undefined) return []; // refused without a dead letter: nothing kept to act on
    if (isAlertCommand(p.optionalStr('type'))) return []; // see ALERTS_ON_ALERTS
    const code = p.str('code');
    const subject = p.str('subject');
    return [raise('dead_letter', Fingerprints.deadLetter(code), `dead letter ${id}: ${code} on ${subject}`, {
      code, subject, type: p.optionalStr('type'), dead_letter_id: String(id), reason: clip(p.optionalStr('reason') ?? '', 2000) || undefined,
    })];
  },
  'dead_letter.closed': (p) => {
    const code = p.str('code');
    if (p.int('open_with_code') > 0) return [];
    return [clear(Fingerprints.deadLetter(code), `every dead letter with code ${code} was retried or discarded (the last: ${p.int('dead_letter_id')}, ${p.str('status')})`)];
  },
  'agent.status': (p) => {
    // A drain or its end (`draining` present) is a person's decision, not a change of health.
    if (p.has('draining')) return [];
    const agent = p.str('agent_id');
    const status = p.str('status');
    const reason = p.optionalStr('reason');
    const fields = { agent_id: agent, status, reason };
    switch (status) {
      case 'degraded': return [raise('agent_degraded', Fingerprints.agent('agent_degraded', agent), `agent ${agent} degraded${reason ? `: ${reason}` : ''}`, fields)];
      case 'failed': return [
        clear(Fingerprints.agent('agent_degraded', agent), `agent ${agent} failed (an agent_failed alert follows)`),
        raise('agent_failed', Fingerprints.agent('agent_failed', agent), `agent ${agent} failed${reason ? `: ${reason}` : ''}`, fields),
      ];
      case 'healthy':
      case 'removed': {
        const why = status === 'healthy' ? `agent ${agent} is healthy again` : `agent ${agent} was removed${reason ? ` (${reason})` : ''}`;
        return [clear(Fingerprints.agent('agent_degraded', agent), why), clear(Fingerprints.agent('agent_failed', agent), why)];
      }
      default: return [];
    }
  },
  'task.status': (p) => {
    const ticket = p.str('ticket_id');
    const task = p.str('task_id');
    const status = p.str('status');
    const moved = `task ${ticket}/${task} is ${status}`;
    // Any state change of a task is progress: its stall is over, and so is its ticket's.
    const actions = [clear(Fingerprints.taskStalled(ticket, task), moved), clear(Fingerprints.ticketStalled(ticket), moved)];
    if (status === 'blocked') {
      const reason = p.optionalStr('reason');
      actions.push(raise('task_blocked', Fingerprints.taskBlocked(ticket, task), `task ${ticket}/${task} blocked${reason ? `: ${reason}` : ''}`, { ticket_id: ticket, task_id: task, reason }));
    } else {
      actions.push(clear(Fingerprints.taskBlocked(ticket, task), moved));
    }
    return actions;
  },
  'join.status': (p) => {
    const ticket = p.str('ticket_id');
    const join = p.str('join_id');
    const status = p.str('status');
    if (status === 'merged') return [clear(Fingerprints.mergeUnresolved(ticket, join), `join ${ticket}/${join} merged`)];
    // Blocked naming files: its merge left conflicts a person must resolve (`merge.resolve`).
    const files = p.optionalStrings('files') ?? [];
    if (status !== 'blocked' || files.length === 0) return [];
    return [raise('merge_unresolved', Fingerprints.mergeUnresolved(ticket, join),
      `${ticket}: merge of ${join} left ${files.length} conflicted file${files.length === 1 ? '' : 's'} unresolved`,
      { ticket_id: ticket, join_id: join, continuation: p.optionalStr('continuation'), files: clip(files.join(', '), 2000) })];
  },
  'ticket.ended': (p) => {
    const ticket = p.str('ticket_id');
    const status = p.str('status');
    const reason = p.optionalStr('reason');
    const actions = [clear(Fingerprints.ticketStalled(ticket), `ticket ${ticket} ended ${status}`)];
    if (status === 'failed') actions.push(raise('ticket_failed', Fingerprints.ticketFailed(ticket), `ticket ${ticket} failed${reason ? `: ${reason}` : ''}`, { ticket_id: ticket, reason }));
    return actions;
  },
  'ticket.resumed': (p) => {
    const ticket = p.str('ticket_id');
    return [clear(Fingerprints.ticketFailed(ticket), `ticket ${ticket} is running again: task ${p.str('task_id')} was retried`)];
  },
  'ticket.completed': (p) => {
    const ticket = p.str('ticket_id');
    return [clear(Fingerprints.ticketStalled(ticket), `ticket ${ticket} completed`)];
  },
  'ticket.delivery_failed': (p) => {
    const ticket = p.str('ticket_id');
    const error = p.str('error');
    return [raise('delivery_failed', Fingerprints.deliveryFailed(ticket), `ticket ${ticket} could not be delivered: ${error}`, { ticket_id: ticket, error: clip(error, 2000) })];
  },
  'ticket.delivered': (p) => {
    const ticket = p.str('ticket_id');
    return [clear(Fingerprints.deliveryFailed(ticket), `ticket ${ticket} delivered at ${p.str('commit')}`)];
  },
  'ticket.stalled': (p) => {
    const ticket = p.str('ticket_id');
    const status = p.str('status');
    const idle = p.int('idle_ms');
    return [raise('ticket_stalled', Fingerprints.ticketStalled(ticket), `ticket ${ticket} has been ${status} without change for ${idle} ms`, { ticket_id: ticket, status, idle_ms: String(idle) })];
  },
  'task.stalled': (p) => {
    const ticket = p.str('ticket_id');
    const task = p.str('task_id');
    const attempt = p.int('attempt');
    const silent = p.int('silent_ms');
    const action = p.str('action');
    return [raise('task_stalled', Fingerprints.taskStalled(ticket, task), `task ${ticket}/${task} (attempt ${attempt}) silent for ${silent} ms: ${action}`, {
      ticket_id: ticket, task_id: task, attempt: String(attempt), agent_id: p.optionalStr('agent_id'), silent_ms: String(silent), action,
    })];
  },
  'actor.supervision': (p) => {
    if (p.str('action') !== 'escalated') return [];
    const actor = p.str('actor');
    if (actor === ALERT_ACTOR) return []; // see ALERTS_ON_ALERTS
    const entity = p.str('entity');
    const error = p.optionalStr('error');
    return [raise('actor_escalated', Fingerprints.actorEscalated(actor, entity), `${actor} ${entity} exhausted its restarts and escalated${error ? `: ${error}` : ''}`, {
      actor, entity, error: error === undefined ? undefined : clip(error, 2000), ...idsOfEntity(actor, entity),
    })];
  },
  'budget.warning': (p) => [budgetRaise('budget_warning', p)],
  'budget.exceeded': (p) => [budgetRaise('budget_exceeded', p)],
  'budget.changed': (p) => {
    const scope = p.str('scope');
    const id = p.str('id');
    if (p.bool('exceeded')) return [];
    const why = `the budget of ${scope} ${id} changed and is no longer exceeded`;
    return [clear(Fingerprints.budget('budget_exceeded', scope, id), why), clear(Fingerprints.budget('budget_warning', scope, id), why)];
  },
  'node.lost': (p) => {
    const node = p.str('node_id');
    const partitions = p.ints('partitions');
    return [raise('node_lost', Fingerprints.nodeLost(node), `node ${node} was lost: ${p.str('by')} took over ${partitions.length} of its partitions`, {
      node_id: node, by: p.str('by'), partitions: clip(partitions.join(','), 2000),
    })];
  },
  'node.status': (p) => {
    const node = p.str('node_id');
    return p.str('status') === 'started' ? [clear(Fingerprints.nodeLost(node), `node ${node} started again`)] : [];
  },
  'breaker.state': (p) => {
    const node = p.str('node_id');
    const breaker = p.str('breaker');
    const key = p.str('key');
    const state = p.str('state');
    const fp = Fingerprints.circuitOpen(node, breaker, key);
    if (state === 'open') {
      const reason = p.optionalStr('reason');
      return [raise('circuit_open', fp, `circuit ${breaker} open on ${node} for ${key}${reason ? `: ${reason}` : ''}`, { node_id: node, breaker, key, reason })];
    }
    return state === 'closed' ? [clear(fp, `circuit ${breaker} on ${node} for ${key} closed again`)] : [];
  },
};

function budgetRaise(kind: 'budget_warning' | 'budget_exceeded', p: Reader): AlertAction {
  const scope = p.str('scope');
  const id = p.str('id');
  const measure = p.str('measure');
  const spent = p.num('spent');
  const limit = p.num('limit');
  const title = kind === 'budget_exceeded'
    ? `${scope} ${id} exceeded its ${measure} budget: ${spent} of ${limit}`
    : `${scope} ${id} used ${Math.round(p.num('share') * 100)}% of its ${measure} budget: ${spent} of ${limit}`;
  return raise(kind, Fingerprints.budget(kind, scope, id), title, {
    scope, id, ticket_id: p.optionalStr('ticket_id') ?? (scope === 'ticket' ? id : undefined), agent_id: scope === 'agent' ? id : undefined,
    measure, spent: String(spent), limit: String(limit),
  });
}

/** The ids rules match on, read from an escalated actor's entity id. */
function idsOfEntity(actor: string, entity: string): Record<string, string | undefined> {
  if (actor === 'AgentActor') return { agent_id: entity };
  const [ticket, rest] = [entity.split('/')[0], entity.split('/')[1]];
  if (actor === 'JoinActor' || actor === 'MergeActor') return { ticket_id: ticket, join_id: rest };
  if (actor === 'TicketActor' || actor === 'OwnershipActor') return { ticket_id: ticket };
  return {};
}

/**
 * The alert actions of one event. Unknown types map to `[]`; a listed type with a payload the
 * mapping cannot read throws `MalformedTriggerEvent`.
 */
export function triggersOf(event: TriggerEvent): AlertAction[] {
  const mapping = MAPPINGS[event.type];
  if (!mapping) return [];
  if (!event.payload || typeof event.payload !== 'object' || Array.isArray(event.payload)) throw new MalformedTriggerEvent(event.type, 'payload', 'is not an object');
  return mapping(new Reader(event.type, event.payload as Record<string, unknown>));
}

/** Event types that can raise or clear an alert (the consumer's docs and tests list them). */
export const TRIGGER_TYPES: readonly string[] = Object.keys(MAPPINGS).sort();

/** Reads typed fields of a payload; a missing or mistyped one throws `MalformedTriggerEvent`. */
class Reader {
  constructor(private readonly type: string, private readonly p: Record<string, unknown>) {}

  str(name: string): string {
    const v = this.p[name];
    if (typeof v !== 'string' || v.length === 0) throw new MalformedTriggerEvent(this.type, name, 'must be a non-empty string');
    return v;
  }

  has(name: string): boolean {
    return this.p[name] !== undefined && this.p[name] !== null;
  }

  optionalStr(name: string): string | undefined {
    return this.p[name] === undefined || this.p[name] === null ? undefined : this.str(name);
  }

  num(name: string): number {
    const v = this.p[name];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new MalformedTriggerEvent(this.type, name, 'must be a number');
    return v;
  }

  int(name: string): number {
    const v = this.num(name);
    if (!Number.isInteger(v)) throw new MalformedTriggerEvent(this.type, name, 'must be an integer');
    return v;
  }

  optionalInt(name: string): number | undefined {
    return this.p[name] === undefined || this.p[name] === null ? undefined : this.int(name);
  }

  bool(name: string): boolean {
    const v = this.p[name];
    if (typeof v !== 'boolean') throw new MalformedTriggerEvent(this.type, name, 'must be a boolean');
    return v;
  }

  ints(name: string): number[] {
    const v = this.p[name];
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) throw new MalformedTriggerEvent(this.type, name, 'must be an array of integers');
    return v as number[];
  }

  optionalStrings(name: string): string[] | undefined {
    const v = this.p[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new MalformedTriggerEvent(this.type, name, 'must be an array of strings');
    return v as string[];
  }
}

function compact(fields: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined).map(([k, v]) => [k, clip(v, 2000)]));
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
