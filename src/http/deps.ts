import type { PrincipalStore } from '../access/index.ts';
import type { AlertStore } from '../alerts/alert-store.ts';
import type { AuditLog } from '../audit/index.ts';
import type { OmoiConfig } from '../config/index.ts';
import type { Logger } from '../logging/logger.ts';
import type { Breakers } from '../breakers/index.ts';
import type { TaskOutput } from '../executor/index.ts';
import type { Lag } from '../messaging/lag.ts';
import type { Metrics } from '../metrics.ts';
import type { Database } from '../persistence/index.ts';
import type { AuthFailureLimit } from './auth-failures.ts';
import type { EventFeed } from './live-events/event-feed.ts';

/** What `/readyz` reports: ready only when every check is ok. */
export interface Readiness { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> }

/**
 * Everything the HTTP layer needs from the node, built by `src/bootstrap.ts`. The HTTP layer
 * reads state from PostgreSQL and changes it only through `submit` (commands) and
 * `deadLetters` (operator actions); it never writes entity rows itself, except through
 * `principals` (tokens), `audit` (one row per state-changing call), and the webhook tables
 * (subscriptions; GitHub delivery ids and issue → ticket links: src/webhooks).
 */
export interface HttpDeps {
  config: OmoiConfig; log: Logger; metrics: Metrics; db: Database;
  readiness(): Promise<Readiness>;
  /** Validates (throws ProtocolError from src/protocol/codec.ts on bad input) and publishes a command durably; resolves when JetStream acked it. */
  submit(type: string, payload: unknown, opts?: { id?: string; by?: string }): Promise<{ id: string }>;
  /** How far behind the JetStream consumers are (`src/messaging/lag.ts`); absent → `/api/cluster` reports no lag. */
  lag?(): Promise<Lag>;
  /** This node's circuit breakers (`GET /api/breakers`); absent → an empty list. */
  breakers?: Pick<Breakers, 'states'>;
  /** Who may call `/api`, by token; `Principals` over `omoi_principal`. */
  principals: PrincipalStore;
  /** The append-only audit log (`omoi_audit`). */
  audit: AuditLog;
  /** Reads of the alerts (`omoi_alert`); they change only through `alert.*` commands. */
  alerts: AlertStore;
  /** Failed authentications allowed per client address; default 10 within 60 s. */
  authFailureLimit?: AuthFailureLimit;
  /** The node's one subscription to the domain events, fanned out by `GET /api/events/stream`; absent → that route answers 503 `events_unavailable`. */
  events?: EventFeed;
  /** Task output across the cluster (`src/executor/task-output.ts`); absent → the log routes answer 503 `output_unavailable`. */
  taskOutput?: Pick<TaskOutput, 'tail' | 'follow'>;
  deadLetters: { list(status?: string, limit?: number): Promise<unknown[]>; show(id: number): Promise<unknown | undefined>; retry(id: number): Promise<void>; discard(id: number): Promise<void> };
}

export { startHttp } from './server.ts';
