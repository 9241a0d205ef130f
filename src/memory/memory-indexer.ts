import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { pullOptions, upsertConsumer } from '../messaging/streams.ts';
import type { Database } from '../persistence/index.ts';
import { decodeEnvelope, Streams, Subjects, type Envelope } from '../protocol/index.ts';
import { MemoryKind, type MemoryEntry, type MemoryResolution, type MemoryStore } from './memory-store.ts';

/** The durable every node shares: each domain event is looked at by one node of the cluster. */
export const MEMORY_INDEX_CONSUMER = 'memory-index';

/** How long an event whose row could not be written (database down) waits before it comes back, ms. */
const RETRY_MS = 2_000;

/**
 * Creates (or updates) the shared durable on `omoi.evt.>`. It starts with the stream's whole
 * history: a cluster that turns memory on remembers the work still in the stream.
 */
export async function ensureMemoryIndexConsumer(jsm: JetStreamManager, ackWaitMs: number): Promise<void> {
  await upsertConsumer(jsm, Streams.events, {
    durable_name: MEMORY_INDEX_CONSUMER, filter_subject: Subjects.eventsAll,
    ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: nanos(ackWaitMs), max_ack_pending: 1_000,
  });
}

type Row = Record<string, unknown>;

/**
 * Turns domain events into memory rows (src/memory/memory-store.ts) and acks them:
 * 1. `task.status` completed → `task_result` (the task's `run` and its result); failed →
 *    `task_failure` (the reason). `merge.attempted` with `ok` whose attempt resolved files →
 *    `merge_resolution` (by built-in rule or resolver); `join.status` merged after an attempt
 *    left files unresolved → `merge_resolution` by a person (their commit). Other events: acked.
 * 2. The facts are read from the rows the event's transaction committed (task, ticket, merge
 *    attempt: durable before the event), the repository from the ticket row.
 * 3. One row per event id (unique): a redelivered event writes nothing.
 * 4. An event that does not decode is terminated and logged; a database error naks it (back in
 *    `RETRY_MS`). Nothing here runs on an actor's path: a slow index never slows the work.
 */
export class MemoryIndexer {
  private messages?: ConsumerMessages;
  private done?: Promise<void>;

  constructor(private readonly deps: { js: JetStreamClient; db: Database; store: MemoryStore; log: Logger; indexed?: (e: MemoryEntry) => void }) {}

  async start(): Promise<void> {
    const consumer = await this.deps.js.consumers.get(Streams.events, MEMORY_INDEX_CONSUMER);
    this.messages = await consumer.consume(pullOptions(64));
    const messages = this.messages;
    this.done = (async () => {
      for await (const m of messages) await this.handle(m);
    })().catch((err) => this.deps.log.error({ err: errorMessage(err) }, 'memory indexer ended'));
  }

  /** Stops pulling; the event in hand is finished (or left unacked, to come back). Safe twice. */
  async stop(): Promise<void> {
    await this.messages?.close().catch(() => undefined);
    await this.done;
  }

  private async handle(m: JsMsg): Promise<void> {
    let env: Envelope;
    try {
      env = decodeEnvelope(m.data);
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), subject: m.subject, seq: m.seq }, 'memory: ignored an event that does not decode');
      m.term();
      return;
    }
    try {
      const entry = await this.entryOf(env);
      if (entry && await this.deps.store.record(entry)) {
        this.deps.log.debug({ event: env.id, kind: entry.kind, ticket: entry.ticket_id }, 'memory: indexed');
        this.deps.indexed?.(entry);
      }
      m.ack();
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), event: env.id }, 'memory: could not index an event; it comes back');
      m.nak(RETRY_MS);
    }
  }

  /** The memory row an event makes, or undefined for an event worth no memory. */
  private async entryOf(env: Envelope): Promise<MemoryEntry | undefined> {
    const p = (env.payload ?? {}) as Row;
    const ticketId = typeof p.ticket_id === 'string' ? p.ticket_id : undefined;
    if (!ticketId) return undefined;
    const at = Number.isNaN(new Date(env.time).getTime()) ? new Date() : new Date(env.time);
    const base = { event_id: env.id, ticket_id: ticketId, created_at: at };
    if (env.type === 'task.status' && (p.status === 'completed' || p.status === 'failed') && typeof p.task_id === 'string') {
      const [t] = await this.sql(`select k.repository, t.spec, t.owns, t.result, t.reason, t.commit from omoi_task t join omoi_ticket k on k.id = t.ticket_id
        where t.ticket_id = ? and t.id = ?`, [ticketId, p.task_id]);
      if (!t) return undefined;
      const spec = (t.spec ?? {}) as Row;
      const title = [spec.title, spec.run].filter((s) => typeof s === 'string' && s).join(' — ');
      const completed = p.status === 'completed';
      return {
        ...base, repository: String(t.repository), kind: completed ? MemoryKind.task_result : MemoryKind.task_failure,
        task_id: p.task_id, join_id: null, title: title || p.task_id, files: (t.owns as string[]) ?? [],
        // The event's reason is the one of this failure; the row may have moved on (a retry).
        body: completed ? resultText(t.result) : String(p.reason ?? t.reason ?? 'failed'),
        commit: completed ? (t.commit as string | null) : null, resolutions: [],
      };
    }
    if (env.type === 'merge.attempted' && p.ok === true && typeof p.join_id === 'string') {
      const [a] = await this.sql(`select k.repository, a.resolutions, a.commit, a.conflicts from omoi_merge_attempt a join omoi_ticket k on k.id = a.ticket_id
        where a.ticket_id = ? and a.join_id = ? and a.ok and a.commit is not distinct from ? order by a.attempt desc limit 1`, [ticketId, p.join_id, p.commit ?? null]);
      const resolutions = (a?.resolutions ?? []) as MemoryResolution[];
      if (!a || !resolutions.length) return undefined; // a clean merge teaches nothing
      return mergeEntry(base, String(a.repository), p.join_id, resolutions, (a.commit as string | null) ?? null);
    }
    if (env.type === 'join.status' && p.status === 'merged' && typeof p.join_id === 'string') {
      // Merged by a person's commit: the last attempt before it left files unresolved.
      const [a] = await this.sql(`select k.repository, a.ok, a.files, a.conflicts, j.merge_commit from omoi_merge_attempt a join omoi_ticket k on k.id = a.ticket_id
        join omoi_join j on j.ticket_id = a.ticket_id and j.id = a.join_id where a.ticket_id = ? and a.join_id = ? order by a.attempt desc limit 1`, [ticketId, p.join_id]);
      const files = (a?.files ?? []) as string[];
      if (!a || a.ok || !files.length) return undefined;
      const conflicts = (a.conflicts ?? {}) as Record<string, string[]>;
      const sourceOf = (f: string) => Object.entries(conflicts).find(([, fs]) => fs.includes(f))?.[0] ?? '';
      const commit = (typeof p.commit === 'string' ? p.commit : (a.merge_commit as string | null)) ?? null;
      return mergeEntry(base, String(a.repository), p.join_id, files.map((f) => ({ file: f, source: sourceOf(f), by: 'person' })), commit);
    }
    return undefined;
  }

  private async sql(query: string, params: unknown[]): Promise<Row[]> {
    return (await this.deps.db.em().getConnection().execute(query, params)) as Row[];
  }
}

function mergeEntry(base: { event_id: string; ticket_id: string; created_at: Date }, repository: string, joinId: string, resolutions: MemoryResolution[], commit: string | null): MemoryEntry {
  const files = [...new Set(resolutions.map((r) => r.file))];
  return {
    ...base, repository, kind: MemoryKind.merge_resolution, task_id: null, join_id: joinId,
    title: `merge of ${joinId}: conflicts in ${files.join(', ')}`,
    body: resolutions.map((r) => `${r.file} (merging ${r.source || 'a source'}) resolved by ${r.by}`).join('\n') + (commit ? `\nresolved commit ${commit}` : ''),
    files, commit, resolutions,
  };
}

/** A task's JSON result as searchable text: a string as is, anything else as JSON. */
function resultText(result: unknown): string {
  if (result === null || result === undefined) return '';
  return typeof result === 'string' ? result : JSON.stringify(result);
}
