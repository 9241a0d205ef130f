import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { errorMessage, OmoiError } from '../errors.ts';
import { Streams, Subjects } from '../protocol/index.ts';
import { DUPLICATE_WINDOW_MS } from './duplicate-window.ts';

export interface StreamSettings {
  partitions: number; maxDeliver: number; ackWaitMs: number;
  /** Replicas of each stream (its consumers follow it); default 1. See `storageReplicas`. */
  replicas?: number;
  /** Largest size of each work queue (`OMOI_IN`, `OMOI_PART`), bytes; default `DEFAULT_WORK_QUEUE_MAX_BYTES`. */
  streamMaxBytes?: number;
  /** Told what could not be applied to an existing stream (the node starts with it as it is). */
  warn?: (fields: Record<string, unknown>, message: string) => void;
}

/** 1 GiB: far more than any backlog a healthy cluster has. */
export const DEFAULT_WORK_QUEUE_MAX_BYTES = 1024 ** 3;

/**
 * How many replicas Omoi's JetStream storage keeps: streams, their consumers, and any object
 * store bucket a node creates (`OMOI_STREAM_REPLICAS`); so all survive the same server losses.
 */
export function storageReplicas(config: { streamReplicas?: number }): number {
  return config.streamReplicas ?? 1;
}

export const ROUTER_CONSUMER = 'router';
export const partitionConsumer = (partition: number) => `part-${partition}`;
/** Durable consumers of the events stream shared by every node (src/alerts/trigger-consumer.ts): each event is mapped once, cluster-wide. */
export const ALERT_TRIGGER_CONSUMERS = { events: 'alert-triggers-evt', errors: 'alert-triggers-errors' } as const;
/** Deliveries of one event to the alert triggers before they give up on it (NATS unreachable all along). */
export const ALERT_TRIGGER_MAX_DELIVER = 20;

/**
 * Options of the node's long-lived pulls (`consume`: the ingress router, each partition
 * worker). A pull request lives on the server leading its consumer; if that server dies, the
 * request dies with it, and a client connected to another server is not told. It notices by
 * two missed idle heartbeats, then asks for the consumer's info (retrying, spaced ½–1½ pull
 * lifetimes, until the consumer has a new leader) and pulls again. With nats.js's defaults
 * (30 s pulls, a heartbeat every 15 s) a partition stalled 30 s and more after the loss of a
 * server of its cluster (test/cluster/nats-server-loss.test.ts); 2 s pulls with a heartbeat
 * every second notice in about 2 s, and cost an idle consumer one pull request every 2 s.
 */
export function pullOptions(maxMessages: number): { max_messages: number; expires: number; idle_heartbeat: number } {
  return { max_messages: maxMessages, expires: 2_000, idle_heartbeat: 1_000 };
}

/**
 * Creates or updates the streams and durable consumers; safe to run on every start of every
 * node (idempotent), also by several nodes at the same moment: JetStream answers a create
 * whose config equals the existing one with success, so two nodes that both found nothing
 * both succeed (`test/messaging/streams.test.ts`).
 * - OMOI_IN   `omoi.in.>`   work queue of outside commands, one shared durable `router`
 * - OMOI_PART `omoi.part.>` work queue, one durable pull consumer per partition
 * - OMOI_EVT  `omoi.evt.>`, `omoi.errors.>`, `omoi.agent.>` history for observers (7 days),
 *   and the durables `alert-triggers-evt` / `alert-triggers-errors` shared by every node
 * Each stream has `s.replicas` replicas; a stream made with fewer is scaled up (JetStream
 * allows changing `num_replicas` in place).
 *
 * Bounded storage: a work queue drops a message once its consumer acks it, so it holds only
 * unfinished work. It has no `max_age` (that would drop work nobody acked) but a size bound
 * with `discard: new`: when full, a publish is refused (publishers retry: the outbox, the
 * router's nak, HTTP 503) and nothing stored is lost. Both are changed in place on a stream
 * made before; a retention JetStream cannot change in place is left as it is, with a warning.
 */
export async function ensureStreams(jsm: JetStreamManager, s: StreamSettings): Promise<void> {
  const dedupe = nanos(DUPLICATE_WINDOW_MS);
  const num_replicas = s.replicas ?? 1;
  const bounded = { max_bytes: s.streamMaxBytes ?? DEFAULT_WORK_QUEUE_MAX_BYTES, discard: DiscardPolicy.New };
  await upsertStream(jsm, {
    name: Streams.ingress, subjects: [Subjects.ingressAll], retention: RetentionPolicy.Workqueue,
    storage: StorageType.File, duplicate_window: dedupe, max_msg_size: 2 * 1024 * 1024, num_replicas, ...bounded,
  }, s.warn);
  await upsertStream(jsm, {
    name: Streams.partitions, subjects: [Subjects.partitionAll], retention: RetentionPolicy.Workqueue,
    storage: StorageType.File, duplicate_window: dedupe, num_replicas, ...bounded,
  }, s.warn);
  await upsertStream(jsm, {
    name: Streams.events, subjects: [Subjects.eventsAll, Subjects.errorsAll, 'omoi.agent.>'], retention: RetentionPolicy.Limits,
    storage: StorageType.File, duplicate_window: dedupe, max_age: nanos(7 * 24 * 3600_000), max_bytes: 1024 ** 3, discard: DiscardPolicy.Old, num_replicas,
  });
  const consumer = {
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(s.ackWaitMs),
    // One more than our own bound: the worker dead-letters on the last delivery itself.
    max_deliver: s.maxDeliver + 1,
    max_ack_pending: 10_000,
  };
  await upsertConsumer(jsm, Streams.ingress, { ...consumer, durable_name: ROUTER_CONSUMER });
  for (let p = 0; p < s.partitions; p++) {
    await upsertConsumer(jsm, Streams.partitions, { ...consumer, durable_name: partitionConsumer(p), filter_subject: Subjects.partitionFilter(p) });
  }
  // The alert triggers (src/alerts/trigger-consumer.ts): from the events published after they
  // were first made (a cluster upgraded with days of history does not alert on all of it), one
  // event at a time cluster-wide (max_ack_pending 1), so a condition's clear never overtakes its
  // raise on the way to the alert's partition, whichever nodes map them.
  const triggers = { ...consumer, deliver_policy: DeliverPolicy.New, max_deliver: ALERT_TRIGGER_MAX_DELIVER + 1, max_ack_pending: 1 };
  await upsertConsumer(jsm, Streams.events, { ...triggers, durable_name: ALERT_TRIGGER_CONSUMERS.events, filter_subject: Subjects.eventsAll });
  await upsertConsumer(jsm, Streams.events, { ...triggers, durable_name: ALERT_TRIGGER_CONSUMERS.errors, filter_subject: Subjects.errorsAll });
}

type StreamConfig = Parameters<JetStreamManager['streams']['add']>[0];
type ConsumerConfig = Parameters<JetStreamManager['consumers']['add']>[1];

async function upsertStream(jsm: JetStreamManager, cfg: StreamConfig & { name: string }, warn?: StreamSettings['warn']): Promise<void> {
  try {
    try {
      const existing = (await jsm.streams.info(cfg.name)).config;
      if (cfg.retention !== undefined && existing.retention !== cfg.retention) {
        // nats-server cannot change a stream's retention in place; its limits made for another
        // retention could lose work (or refuse all of it), so the stream is left as it is.
        warn?.({ stream: cfg.name, retention: existing.retention, expected: cfg.retention },
          `stream ${cfg.name} has ${existing.retention} retention, not ${cfg.retention}: nats-server cannot change it in place, so it is left unchanged and unbounded; ` +
          `to bound it, stop every node, let its consumers drain, delete it (nats stream rm ${cfg.name}) and start again`);
        return;
      }
      await jsm.streams.update(cfg.name, cfg);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.streams.add(cfg);
    }
  } catch (err) {
    // The server's own words ("replicas > 1 not supported in non-clustered mode") name no setting.
    if ((cfg.num_replicas ?? 1) > 1 && /replica|cluster|peers|resources/i.test(errorMessage(err))) {
      throw new OmoiError('stream_replicas', `stream ${cfg.name} with ${cfg.num_replicas} replicas (OMOI_STREAM_REPLICAS): ${errorMessage(err)}; replicas need a NATS cluster with at least that many JetStream servers`);
    }
    throw err;
  }
}

/** Creates the durable consumer, or updates it to `cfg`: safe on every start of every node. */
export async function upsertConsumer(jsm: JetStreamManager, stream: string, cfg: ConsumerConfig & { durable_name: string }): Promise<void> {
  try {
    await jsm.consumers.info(stream, cfg.durable_name);
    await jsm.consumers.update(stream, cfg.durable_name, cfg);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(stream, cfg);
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; message?: string; api_error?: { err_code?: number } };
  return /not found/i.test(e.message ?? '') || e.api_error?.err_code === 10059 || e.api_error?.err_code === 10014;
}
