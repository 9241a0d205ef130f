import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Charge } from './budget/index.ts';
import { lookup } from './protocol/index.ts';
import { ALERT_KINDS, type AlertKind } from './alerts/alert-kinds.ts';

/**
 * The node's Prometheus metrics, served on `/metrics`. One registry per node.
 *
 * Every label value comes from a small fixed set — the protocol registry's message types, the
 * actor types, the code's error codes, fixed outcomes, the retention tables — never from what
 * a sender chose (a subject, an id, a URL): each new value is a new series kept for the life
 * of the process. Values from outside go through the `*Label` functions below, which map
 * anything unknown to `other`.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly handled = new Counter({ name: 'omoi_messages_handled_total', help: 'Messages handled, by type and outcome', labelNames: ['type', 'outcome'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'omoi_handler_seconds', help: 'Time from pull to ack of a message, by type', labelNames: ['type'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  readonly redeliveries = new Counter({ name: 'omoi_redeliveries_total', help: 'Messages received with a delivery count above 1', labelNames: ['type'], registers: [this.registry] });
  readonly deadLetters = new Counter({ name: 'omoi_dead_letters_total', help: 'Messages dead-lettered, by code', labelNames: ['code'], registers: [this.registry] });
  readonly liveActors = new Gauge({ name: 'omoi_live_actors', help: 'Live entity actors on this node, by actor type', labelNames: ['actor'], registers: [this.registry] });
  readonly spawns = new Counter({ name: 'omoi_actor_spawns_total', help: 'Child actors spawned (MergeActors), by actor type and the actor type of their nact parent (`node` for a node-level supervisor)', labelNames: ['actor', 'parent'], registers: [this.registry] });
  readonly restarts = new Counter({ name: 'omoi_actor_restarts_total', help: 'Actor restarts and escalations, by actor type and action', labelNames: ['actor', 'action'], registers: [this.registry] });
  readonly attemptsExpired = new Counter({ name: 'omoi_attempts_expired_total', help: 'Task attempts past their deadline (agent silent) sent back to the queue, by the state they were in', labelNames: ['status'], registers: [this.registry] });
  /** Alert deliveries by route type (webhook, slack, email) and outcome (delivered, retry, failed, deferred): src/alerts/delivery. */
  readonly alertDeliveries = new Counter({ name: 'omoi_alert_deliveries_total', help: 'Alert deliveries tried or deferred, by route type and outcome (delivered, retry, failed, deferred: its breaker was open)', labelNames: ['route_type', 'outcome'], registers: [this.registry] });
  /** Outgoing webhook deliveries by outcome (delivered, retry, failed, deferred): src/webhooks. */
  readonly webhookDeliveries = new Counter({ name: 'omoi_webhook_deliveries_total', help: 'Webhook subscription deliveries tried or deferred, by outcome (delivered, retry, failed, deferred: its breaker was open)', labelNames: ['outcome'], registers: [this.registry] });
  /** Pushes of completed tickets' branches tried or deferred, by outcome (same set as webhook deliveries): src/delivery-git. */
  readonly ticketPushes = new Counter({ name: 'omoi_ticket_pushes_total', help: 'Pushes of completed tickets\' branches tried or deferred, by outcome (delivered, retry, failed, deferred: the remote\'s breaker was open)', labelNames: ['outcome'], registers: [this.registry] });
  /** Incoming GitHub webhook deliveries by outcome (applied, duplicate, ignored, refused): src/webhooks/github. */
  readonly githubHooks = new Counter({ name: 'omoi_github_hooks_total', help: 'GitHub webhook deliveries received, by outcome (applied, duplicate, ignored, refused: bad signature or input)', labelNames: ['outcome'], registers: [this.registry] });
  // Spend of the attempts whose ticket this node handled. Labels: `outcome` (completed | failed), `direction` (input | output); never a model or an id.
  readonly spendCost = new Counter({ name: 'omoi_spend_cost_usd_total', help: 'Cost of task attempts as their agents reported it, US dollars, by outcome', labelNames: ['outcome'], registers: [this.registry] });
  readonly spendTokens = new Counter({ name: 'omoi_spend_tokens_total', help: 'Tokens used by task attempts, by direction (input, output) and outcome', labelNames: ['direction', 'outcome'], registers: [this.registry] });
  readonly spendWall = new Counter({ name: 'omoi_spend_wall_seconds_total', help: 'Wall time of task attempts, seconds, by outcome', labelNames: ['outcome'], registers: [this.registry] });
  readonly partitions = new Gauge({ name: 'omoi_partitions_held', help: 'Partitions leased by this node', registers: [this.registry] });
  readonly retentionDeleted = new Counter({ name: 'omoi_retention_deleted_total', help: 'Rows the retention sweep deleted, by table', labelNames: ['table'], registers: [this.registry] });
  readonly retentionSweeps = new Counter({ name: 'omoi_retention_sweeps_total', help: 'Retention sweeps, by outcome (done; busy: another node was sweeping; failed: the database did not answer)', labelNames: ['outcome'], registers: [this.registry] });
  /** Per breaker name (a fixed set), never per key: the key (a URL, a program) is not a label. */
  readonly breakersOpen = new Gauge({ name: 'omoi_breaker_open', help: 'Circuit breakers open (or half-open) on this node, by breaker', labelNames: ['breaker'], registers: [this.registry] });
  readonly breakerTransitions = new Counter({ name: 'omoi_breaker_transitions_total', help: 'Circuit breaker state changes on this node, by breaker and new state', labelNames: ['breaker', 'state'], registers: [this.registry] });

  /** A breaker changed state: the transition counted, the open gauge recounted from every breaker's state. */
  breakerChanged(breaker: string, state: string, all: Array<{ breaker: string; state: string }>): void {
    this.breakerTransitions.inc({ breaker, state });
    this.breakersOpen.set({ breaker }, all.filter((b) => b.breaker === breaker && b.state !== 'closed').length);
  }
  /** Labels from fixed sets: the alert kinds and severities of src/alerts/alert-kinds.ts. */
  readonly alertsRaised = new Counter({ name: 'omoi_alerts_raised_total', help: 'Alerts opened by the AlertActors of this node, by kind and severity', labelNames: ['kind', 'severity'], registers: [this.registry] });
  /** Cluster-wide, read from PostgreSQL at each scrape (see `countOpenAlerts`); every kind is always present. */
  readonly alertsOpen = new Gauge({
    name: 'omoi_alerts_open', help: 'Open alerts (raised or acknowledged) in the cluster, by kind', labelNames: ['kind'], registers: [this.registry],
    collect: async () => {
      const counts = await this.countOpenAlerts?.().catch(() => undefined);
      if (!counts) return;
      for (const kind of ALERT_KINDS) this.alertsOpen.set({ kind }, counts[kind] ?? 0);
    },
  });
  /** Set by the node: open alerts by kind (absent in tests that build bare metrics). */
  countOpenAlerts?: () => Promise<Partial<Record<AlertKind, number>>>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'omoi_process_' });
  }

  /** One attempt's recorded usage (after its ticket's commit). */
  countUsage(c: Charge, outcome: 'completed' | 'failed'): void {
    this.spendCost.inc({ outcome }, c.cost_usd);
    this.spendTokens.inc({ direction: 'input', outcome }, c.input_tokens);
    this.spendTokens.inc({ direction: 'output', outcome }, c.output_tokens);
    this.spendWall.inc({ outcome }, c.wall_ms / 1000);
  }
}

/** The label value for anything outside a label's fixed set. */
export const OTHER_LABEL = 'other';

/** A message type known to the protocol registry, else `other` (a subject may carry any type). */
export function messageTypeLabel(type: string): string {
  return lookup(type) ? type : OTHER_LABEL;
}

/** An error code as the code writes them (`snake_case`), else `other`. */
export function errorCodeLabel(code: string): string {
  return /^[a-z][a-z0-9_]{0,47}$/.test(code) ? code : OTHER_LABEL;
}

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The usual HTTP methods, else `other` (Node accepts some thirty). */
export function httpMethodLabel(method: string): string {
  return HTTP_METHODS.has(method) ? method : OTHER_LABEL;
}

/** The route's pattern (`/api/tickets/:id`), never the path asked for; `unmatched` for a 404 without a route. */
export function httpRouteLabel(pattern: string | undefined): string {
  return pattern ?? 'unmatched';
}
