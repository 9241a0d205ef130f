import { EntitySchema } from '@mikro-orm/core';

/** A node of the cluster; `heartbeat_at` tells the others it is alive. */
export interface NodeRow { id: string; started_at: Date; heartbeat_at: Date; http_url: string | null; status: string }
export const NodeEntity = new EntitySchema<NodeRow>({
  name: 'NodeRow',
  tableName: 'omoi_node',
  properties: {
    id: { type: 'string', primary: true },
    started_at: { type: 'Date' },
    heartbeat_at: { type: 'Date' },
    http_url: { type: 'string', nullable: true },
    status: { type: 'string' },
  },
});

/**
 * Who holds a partition. `epoch` increases on every change of holder; every batch commit
 * checks (and locks) the row, so a node that lost its lease cannot commit stale writes.
 */
export interface PartitionLeaseRow { partition: number; node_id: string | null; epoch: number; expires_at: Date }
export const PartitionLeaseEntity = new EntitySchema<PartitionLeaseRow>({
  name: 'PartitionLeaseRow',
  tableName: 'omoi_partition_lease',
  properties: {
    partition: { type: 'integer', primary: true, autoincrement: false },
    node_id: { type: 'string', nullable: true },
    epoch: { type: 'integer' },
    expires_at: { type: 'Date' },
  },
});

/**
 * One holding of a partition lease: `node_id` held `partition` at `epoch` from `held_from`
 * until `held_to` (null while it holds it). Written in the transaction that changes the
 * lease's holder, so the table is the lease's whole history. `taken_over_from`: the other
 * node whose expired lease this holding took (a failover); null when the lease was free.
 */
export interface LeaseHistoryRow { id?: number; partition: number; epoch: number; node_id: string; held_from: Date; held_to: Date | null; taken_over_from?: string | null }
export const LeaseHistoryEntity = new EntitySchema<LeaseHistoryRow>({
  name: 'LeaseHistoryRow',
  tableName: 'omoi_lease_history',
  uniques: [{ properties: ['partition', 'epoch'] }],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    partition: { type: 'integer' },
    epoch: { type: 'integer' },
    node_id: { type: 'string' },
    held_from: { type: 'Date' },
    held_to: { type: 'Date', nullable: true, index: true },
    taken_over_from: { type: 'string', nullable: true },
  },
});

/**
 * The cluster's fixed facts, one row (`id` 1), written by the first node to start: the
 * partition count every other node must share.
 */
export interface ClusterRow { id: number; partitions: number; created_at: Date }
export const ClusterEntity = new EntitySchema<ClusterRow>({
  name: 'ClusterRow',
  tableName: 'omoi_cluster',
  properties: {
    id: { type: 'integer', primary: true, autoincrement: false },
    partitions: { type: 'integer' },
    created_at: { type: 'Date' },
  },
});

/** Ids of messages whose effects are committed: a redelivered id is acked and ignored. */
export interface ProcessedMessageRow { message_id: string; partition: number; processed_at: Date }
export const ProcessedMessageEntity = new EntitySchema<ProcessedMessageRow>({
  name: 'ProcessedMessageRow',
  tableName: 'omoi_processed_message',
  properties: {
    message_id: { type: 'string', primary: true },
    partition: { type: 'integer' },
    processed_at: { type: 'Date', index: true },
  },
});

/**
 * Messages produced by a committed transaction and not yet confirmed published. Written in
 * the same transaction as the state change; published (with `Nats-Msg-Id` = message_id) then
 * deleted. A crash in between republishes them; JetStream and receivers deduplicate.
 */
export interface OutboxRow { id?: number; message_id: string; subject: string; body: string; partition: number; created_at: Date }
export const OutboxEntity = new EntitySchema<OutboxRow>({
  name: 'OutboxRow',
  tableName: 'omoi_outbox',
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    message_id: { type: 'string', unique: true },
    subject: { type: 'string' },
    body: { type: 'text' },
    partition: { type: 'integer', index: true },
    created_at: { type: 'Date' },
  },
});

/** Input that was rejected or exhausted its deliveries, kept whole for `omoi dlq`. */
export interface DeadLetterRow {
  id?: number; message_id: string | null; subject: string; type: string | null; code: string; reason: string;
  body: string; deliveries: number; status: 'open' | 'retried' | 'discarded'; created_at: Date; resolved_at: Date | null;
}
export const DeadLetterEntity = new EntitySchema<DeadLetterRow>({
  name: 'DeadLetterRow',
  tableName: 'omoi_dead_letter',
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    message_id: { type: 'string', nullable: true, index: true },
    subject: { type: 'string' },
    type: { type: 'string', nullable: true },
    code: { type: 'string' },
    reason: { type: 'text' },
    body: { type: 'text' },
    deliveries: { type: 'integer' },
    status: { type: 'string', index: true },
    created_at: { type: 'Date' },
    resolved_at: { type: 'Date', nullable: true, index: true },
  },
});

/**
 * Every domain event, in order: the history the dashboard and `omoi status` show. `agent_id`
 * is the payload's, for an agent's history. Written with the partition transaction that
 * produced the event; `actor.supervision` (no partition) best effort by the reporting node.
 */
export interface EventLogRow { id?: number; message_id: string; type: string; ticket_id: string | null; entity: string | null; agent_id?: string | null; payload: unknown; time: Date }
export const EventLogEntity = new EntitySchema<EventLogRow>({
  name: 'EventLogRow',
  tableName: 'omoi_event',
  indexes: [{ properties: ['ticket_id', 'id'] }, { properties: ['agent_id', 'id'] }, { properties: ['type', 'time'] }],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    message_id: { type: 'string', unique: true },
    type: { type: 'string' },
    ticket_id: { type: 'string', nullable: true },
    entity: { type: 'string', nullable: true },
    agent_id: { type: 'string', nullable: true },
    payload: { type: 'json' },
    time: { type: 'Date', index: true },
  },
});

/**
 * A signed agent message the ingress router accepted: its id may not be used again by that
 * agent (`replayed`), except by a redelivery of the same `OMOI_IN` stream sequence. Rows older
 * than twice `OMOI_SIGNATURE_MAX_AGE_MS` are pruned: a message that old is refused by its time.
 */
export interface AgentMessageRow { agent_id: string; message_id: string; stream_seq: number; at: Date }
export const AgentMessageEntity = new EntitySchema<AgentMessageRow>({
  name: 'AgentMessageRow',
  tableName: 'omoi_agent_message',
  properties: {
    agent_id: { type: 'string', primary: true },
    message_id: { type: 'string', primary: true },
    stream_seq: { type: 'bigint' },
    at: { type: 'Date', index: true },
  },
});
