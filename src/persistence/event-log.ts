import type { Database } from './database.ts';
import { EventLogEntity, type EventLogRow } from './entities/index.ts';

/** What an event log row is made of: an event's envelope (the protocol's, read structurally). */
export interface LoggedEvent { type: string; time: string; payload?: unknown }

/**
 * The `omoi_event` row of one event: its ticket, entity (task, join, agent, or the payload's
 * `entity`) and agent are read from the payload, so the dashboard can filter by them.
 */
export function eventLogRow(messageId: string, env: LoggedEvent): EventLogRow {
  const payload = (env.payload && typeof env.payload === 'object' ? env.payload : {}) as Record<string, unknown>;
  return {
    message_id: messageId, type: env.type, payload, time: new Date(env.time),
    ticket_id: typeof payload.ticket_id === 'string' ? payload.ticket_id : null,
    entity: String(payload.task_id ?? payload.join_id ?? payload.agent_id ?? payload.entity ?? '') || null,
    agent_id: typeof payload.agent_id === 'string' ? payload.agent_id : null,
  };
}

/**
 * Records an event produced outside any partition transaction (an actor's supervision). A
 * message id already recorded is ignored. Rejects when the database does not answer: the
 * caller decides whether that matters.
 */
export async function recordEvent(db: Database, messageId: string, env: LoggedEvent): Promise<void> {
  await db.em().createQueryBuilder(EventLogEntity).insert(eventLogRow(messageId, env)).onConflict(['message_id']).ignore().execute();
}
