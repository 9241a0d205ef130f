import os from 'node:os';
import path from 'node:path';
import { DEFAULT_COMPATIBILITY } from '../agents/compatibility.ts';
import type { AlertsConfig } from '../alerts/alerts-config.ts';
import type { WebhooksConfig } from '../webhooks/github/github-config.ts';
import { isSafeId, MAX_ID_LENGTH } from '../ids.ts';

/**
 * Every setting of a node, fully defaulted. Resolved once at start-up by `loadConfig`
 * (environment > config file > default); the rest of the system reads only this object.
 */
export interface OmoiConfig {
  /** Stable identity of this node in the cluster (leases, logs). */
  nodeId: string;
  /** Directory for the embedded database, the embedded nats-server store, sandboxes, logs. */
  dataDir: string;
  /**
   * Data directory of the embedded PostgreSQL (used when `databaseUrl` is unset); undefined →
   * `dataDir/postgres`. As root, if the `postgres` user cannot enter it, the cluster lives
   * under `/var/lib/omoi/postgres` and this path links there (see `src/embedded/postgres.ts`).
   */
  postgresDir: string | undefined;
  /** As root: where the copy of the embedded PostgreSQL binaries is kept; undefined → `/var/cache/omoi/postgres`. */
  postgresBinaryCache: string | undefined;
  /** PostgreSQL URL; undefined → embedded PostgreSQL under `dataDir/postgres`. */
  databaseUrl: string | undefined;
  /**
   * NATS URL, or comma-separated URLs of the servers of one NATS cluster (`natsServers` splits
   * them); undefined → a `nats-server -js` child process with its store under `dataDir/nats`.
   */
  natsUrl: string | undefined;
  /**
   * How this process authenticates to NATS (`src/messaging/nats-credentials.ts`): at most one
   * of user+password, token, nkey seed file, creds file; plus TLS files. All unset with
   * `natsUrl` unset → the node's own user of the embedded server. Secrets are never logged.
   */
  natsUser: string | undefined;
  natsPassword: string | undefined;
  natsToken: string | undefined;
  /** Path of an nkey seed file. */
  natsNkey: string | undefined;
  /** Path of a `.creds` file (JWT + seed). */
  natsCreds: string | undefined;
  /** Path of a CA certificate (PEM) to trust for the server's TLS certificate. */
  natsCa: string | undefined;
  /** Paths of a TLS client certificate and its key (PEM); both or neither. */
  natsCert: string | undefined;
  natsKey: string | undefined;
  /** Prefix of this process's reply inboxes; undefined → nats.js's `_INBOX`. */
  natsInboxPrefix: string | undefined;
  /**
   * Replicas of every JetStream stream and consumer (and of object store buckets); the same on
   * every node. More than 1 needs a NATS cluster with at least that many JetStream servers.
   */
  streamReplicas: number;
  /** Largest size of each work-queue stream (`OMOI_IN`, `OMOI_PART`), bytes; when full, publishes are refused, nothing is dropped. */
  streamMaxBytes: number;
  httpHost: string;
  /** HTTP port; 0 picks a free port (printed at start). */
  httpPort: number;
  /** Bearer token required by the HTTP API; undefined → generated into `dataDir/api-token`. */
  apiToken: string | undefined;
  /** Fixed number of partitions of the cluster. Must be the same on every node. */
  partitions: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** JetStream redelivery bound per message before it is dead-lettered. */
  maxDeliver: number;
  /** ms the server waits for an ack before redelivering. */
  ackWaitMs: number;
  /** Messages pulled per partition fetch. */
  fetchBatch: number;
  /** Supervision: restarts allowed per actor within `restartWindowMs`, then escalation. */
  restartMax: number;
  restartWindowMs: number;
  /** Supervision: first restart delay in ms; doubles per restart up to `restartBackoffMaxMs`. */
  restartBackoffMs: number;
  restartBackoffMaxMs: number;
  /** ms an entity actor may stay idle before it is passivated (re-hydrated on next message). */
  idlePassivateMs: number;
  /** ms graceful shutdown waits for in-flight work before forcing. */
  shutdownGraceMs: number;
  /** ms between node heartbeats; a lease lives 3 heartbeats. */
  heartbeatMs: number;
  /** ms a registered remote agent has to send its first heartbeat before it is removed. */
  agentRegistrationTimeoutMs: number;
  /** ms without a heartbeat before an agent is `degraded`. */
  agentDegradedAfterMs: number;
  /** ms without a heartbeat before an agent is `failed` and its tasks go back to the queue. */
  agentFailedAfterMs: number;
  /** ms a failed agent must wait before it may come back (restart cooldown). */
  agentRestartCooldownMs: number;
  /** Restarts a failed agent may make before it is refused for good. */
  agentRestartMax: number;
  /** Share (0–1] of a budget limit at which `budget.warning` is published, unless the budget sets `warn_share`. */
  budgetWarnShare: number;
  /** At 100 % of a ticket's budget: running attempts `finish`, or `stop` (requeued for after a raise), unless the budget says. */
  budgetOnExceeded: 'finish' | 'stop';
  /**
   * Deadline of an `assigned` or `running` attempt, ms: no progress (assignment, start) and no
   * sign of its agent (a remote agent's heartbeat; the local executor still holding it) this
   * long → the attempt is requeued (`task.expire`).
   */
  attemptSilenceMs: number;
  /**
   * A signed remote-agent message whose `Omoi-Time` is further than this from now, ms, either
   * way, is refused (`replayed`); accepted message ids are remembered twice this long.
   */
  signatureMaxAgeMs: number;
  /** Capabilities of this node's local agent. */
  localAgentCapabilities: string[];
  /** Tasks this node's local agent runs at once. */
  localAgentCapacity: number;
  /**
   * Idle task sandboxes this node keeps warm for reuse, over all repositories; 0 turns the pool
   * off (a sandbox is made and removed per attempt). See `src/sandbox/pool.ts`.
   */
  sandboxPool: number;
  /** Idle pooled sandboxes kept per repository (at most `sandboxPool`). */
  sandboxPoolPerRepository: number;
  /** ms an idle pooled sandbox is kept before it is removed. */
  sandboxPoolIdleMs: number;
  /**
   * Command template for `kind: agent` tasks, e.g. `my-agent --prompt-file {prompt_file}`;
   * placeholders {prompt_file} {task_file} {result_file} {task_id} {ticket_id}. Unset → agent
   * tasks fail with `agent_not_configured`.
   */
  agentCommand: string | undefined;
  /**
   * How task commands are isolated (`src/sandbox/isolation.ts`): `bwrap` (bubblewrap; start-up
   * fails if it cannot run), `none` (unsandboxed, the operator's explicit choice), or unset:
   * bubblewrap if it runs here, else task commands are refused.
   */
  sandbox: 'bwrap' | 'none' | undefined;
  /** Directories every task command may write besides its sandbox (under bubblewrap). */
  sandboxWritable: string[];
  /**
   * ms a finished (completed, failed, cancelled) ticket keeps `repos/<ticket>`, its link to the
   * node's shared clone of its repository (where its branch `omoi/<ticket>` is); a clone no
   * ticket links to any more is removed by the clone sweep (at start, then hourly).
   */
  cloneRetainFinishedMs: number;
  /** `max_conflicts_auto_resolve` of tickets that do not set it. */
  maxConflictsAutoResolve: number;
  /** A `running` attempt with no output and no progress report this long is stalled (`task.stalled`), ms. */
  taskStallMs: number;
  /** A stalled attempt: `alert` leaves it for a person, `restart` fails it (reason `stalled`) so it is retried. */
  taskStallAction: 'alert' | 'restart';
  /** A non-terminal ticket whose state has not changed this long raises `ticket.stalled`, ms. */
  ticketStallMs: number;
  /** A remote agent's unacknowledged stop frees its slot anyway after this long (`agent.stopped` `unacknowledged`), ms. */
  stopAckTimeoutMs: number;
  /** Consecutive failures that open a circuit breaker. */
  breakerThreshold: number;
  /** ms an open circuit breaker waits before one trial call. */
  breakerHalfOpenMs: number;
  /**
   * Alert rules and routes: the `alerts:` section of the config file (no environment
   * variables; `src/alerts/alerts-config.ts` has the schema). Empty → alerts show only in the
   * dashboard, the API and `omoi alerts`.
   */
  alerts: AlertsConfig;
  /** Agent version ranges (semver) by protocol version: the `agent_compatibility:` section of the config file (src/agents/compatibility.ts). */
  agentCompatibility: Record<string, string>;
  /** sha256 the local agent's command binary must have (unset: not checked). */
  agentCommandSha256?: string;
  /** Free disk (MiB) an agent needs per slot of its capacity; 0: not checked. */
  agentMinDiskPerSlotMb: number;
  /**
   * Attempts at delivering one alert notification to one route (webhook, Slack, e-mail) before
   * it is recorded `failed`; retries back off exponentially (with jitter) from 2 s to 10 min.
   */
  alertDeliveryMaxAttempts: number;
  /**
   * Incoming webhooks: the `webhooks:` section of the config file (`github:` secret and rules;
   * `src/webhooks/github/github-config.ts` has the schema). Empty → `POST /api/hooks/github` is off.
   */
  webhooks: WebhooksConfig;
  /** Attempts at delivering one event to one webhook subscription before it is recorded `failed` (backoff as alert deliveries'). */
  webhookDeliveryMaxAttempts: number;
  /** Attempts at pushing a completed ticket's branch before its delivery is `failed`; the first retry delay, ms; one attempt's bound, ms. */
  pushMaxAttempts: number;
  pushRetryBaseMs: number;
  pushTimeoutMs: number;
  /**
   * Retention of rows that would otherwise grow forever (`src/persistence/retention.ts`), ms:
   * processed message ids (at least the ack wait and the streams' duplicate window: a copy
   * JetStream no longer drops must still be recognised), the event log, decided dead letters,
   * audit rows and ended lease holdings. `retentionSweepMs` is how often the sweep runs.
   */
  retentionProcessedMs: number;
  retentionEventsMs: number;
  retentionDeadLettersMs: number;
  retentionAuditMs: number;
  /** Resolved alerts and their finished deliveries. */
  retentionAlertsMs: number;
  /** Finished webhook deliveries, removed subscriptions, and GitHub deliveries seen (their ids make redeliveries harmless). */
  retentionWebhooksMs: number;
  /** Memory of past work (`omoi_memory`). */
  retentionMemoryMs: number;
  /** The end of each attempt's output (`omoi_task_log`). */
  retentionTaskLogsMs: number;
  retentionSweepMs: number;
  /** Most earlier results and conflict resolutions recalled into a starting task's context; 0: recall off. */
  memoryContextLimit: number;
  /** Longest a recall may take before the task starts without memory, ms. */
  memoryRecallTimeoutMs: number;
  /** Calls a task's attempt may make to its task API within 10 s; more are refused (429 `rate_limited`). */
  taskApiMaxCalls: number;
  /** Open `/api/events/stream` clients this node serves at once; one more is answered 503. */
  sseMaxClients: number;
  /** Bytes of events a stream client may have waiting unsent before it is disconnected (it resumes with Last-Event-ID). */
  sseClientBufferBytes: number;
}

export const DEFAULTS = {
  dataDir: path.resolve('.omoi'),
  httpHost: '127.0.0.1',
  httpPort: 7070,
  partitions: 64,
  streamReplicas: 1,
  streamMaxBytes: 1024 ** 3,
  logLevel: 'info',
  maxDeliver: 5,
  ackWaitMs: 30_000,
  fetchBatch: 128,
  restartMax: 5,
  restartWindowMs: 60_000,
  restartBackoffMs: 100,
  restartBackoffMaxMs: 10_000,
  idlePassivateMs: 300_000,
  shutdownGraceMs: 10_000,
  heartbeatMs: 2_000,
  agentRegistrationTimeoutMs: 60_000,
  agentDegradedAfterMs: 30_000,
  agentFailedAfterMs: 90_000,
  agentRestartCooldownMs: 10_000,
  agentRestartMax: 3,
  budgetWarnShare: 0.8,
  budgetOnExceeded: 'finish',
  attemptSilenceMs: 120_000,
  signatureMaxAgeMs: 300_000,
  localAgentCapabilities: [] as string[],
  localAgentCapacity: 2,
  sandboxPool: 64,
  sandboxPoolPerRepository: 32,
  sandboxPoolIdleMs: 60_000,
  sandboxWritable: [] as string[],
  cloneRetainFinishedMs: 7 * 24 * 3_600_000,
  maxConflictsAutoResolve: 20,
  taskStallMs: 15 * 60_000,
  taskStallAction: 'alert',
  ticketStallMs: 3_600_000,
  stopAckTimeoutMs: 60_000,
  breakerThreshold: 5,
  breakerHalfOpenMs: 30_000,
  alerts: {} as AlertsConfig,
  agentCompatibility: { ...DEFAULT_COMPATIBILITY },
  agentMinDiskPerSlotMb: 64,
  alertDeliveryMaxAttempts: 8,
  webhooks: {} as WebhooksConfig,
  webhookDeliveryMaxAttempts: 8,
  pushMaxAttempts: 8,
  pushRetryBaseMs: 2_000,
  pushTimeoutMs: 600_000,
  retentionProcessedMs: 24 * 3_600_000,
  retentionEventsMs: 7 * 24 * 3_600_000,
  retentionDeadLettersMs: 30 * 24 * 3_600_000,
  retentionAuditMs: 90 * 24 * 3_600_000,
  retentionAlertsMs: 30 * 24 * 3_600_000,
  retentionWebhooksMs: 30 * 24 * 3_600_000,
  retentionMemoryMs: 180 * 24 * 3_600_000,
  retentionTaskLogsMs: 30 * 24 * 3_600_000,
  retentionSweepMs: 300_000,
  memoryContextLimit: 3,
  memoryRecallTimeoutMs: 500,
  taskApiMaxCalls: 60,
  sseMaxClients: 1000,
  sseClientBufferBytes: 1024 * 1024,
} as const satisfies Partial<OmoiConfig>;

/**
 * `<hostname>-<http port>`; a hostname that would not make a safe id (src/ids.ts) is reduced to
 * letters, digits and `-`, and shortened, so `local-<node id>` (its agent's id) always fits.
 */
export function defaultNodeId(httpPort: number): string {
  const plain = `${os.hostname()}-${httpPort}`;
  if (isSafeNodeId(plain)) return plain;
  const host = os.hostname().replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+/, '').slice(0, MAX_NODE_ID_LENGTH - 6) || 'node';
  return `${host}-${httpPort}`;
}

/** Longest node id: its local agent is `local-<node id>`, a safe id of at most `MAX_ID_LENGTH`. */
export const MAX_NODE_ID_LENGTH = MAX_ID_LENGTH - 'local-'.length;

export function isSafeNodeId(id: string): boolean {
  return id.length <= MAX_NODE_ID_LENGTH && isSafeId(id);
}
