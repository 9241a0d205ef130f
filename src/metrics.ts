import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  /** Per breaker name (a fixed set), never per key: the key (a URL, a program) is not a label. */
  readonly breakersOpen = new Gauge({ name: 'omoi_breaker_open', help: 'Circuit breakers open (or half-open) on this node, by breaker', labelNames: ['breaker'], registers: [this.registry] });
  readonly breakerTransitions = new Counter({ name: 'omoi_breaker_transitions_total', help: 'Circuit breaker state changes on this node, by breaker and new state', labelNames: ['breaker', 'state'], registers: [this.registry] });

  /** A breaker changed state: the transition counted, the open gauge recounted from every breaker's state. */
  breakerChanged(breaker: string, state: string, all: Array<{ breaker: string; state: string }>): void {
    this.breakerTransitions.inc({ breaker, state });
    this.breakersOpen.set({ breaker }, all.filter((b) => b.breaker === breaker && b.state !== 'closed').length);
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'omoi_process_' });
  }
}
