import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ALERT_KINDS, type AlertKind } from './alerts/alert-kinds.ts';

/** The node's Prometheus metrics, served on `/metrics`. One registry per node. */
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
  readonly partitions = new Gauge({ name: 'omoi_partitions_held', help: 'Partitions leased by this node', registers: [this.registry] });
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
}
