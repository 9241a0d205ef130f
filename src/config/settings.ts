import fs from 'node:fs';
import { ConfigError } from '../errors.ts';
import { natsServers } from './nats-servers.ts';
import { isSafeNodeId, MAX_NODE_ID_LENGTH, type OmoiConfig } from './options.ts';

/** How one setting is named in the environment and the config file, and how it is parsed. */
export interface Setting {
  key: keyof OmoiConfig;
  env: string;
  description: string;
  parse: (raw: string) => unknown;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function int(min: number, max: number) {
  return (raw: string, name: string): number => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(name, `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
}

function text(raw: string, name: string): string {
  if (raw.trim() === '') throw new ConfigError(name, 'must not be empty');
  return raw.trim();
}

function url(protocols: string[]) {
  return (raw: string, name: string): string => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new ConfigError(name, `is not a URL: ${JSON.stringify(raw)}`);
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${JSON.stringify(parsed.protocol)}`);
    }
    return raw;
  };
}

/** One NATS URL or a comma-separated list (servers of one cluster); each is checked. */
function natsUrls(raw: string, name: string): string {
  const servers = natsServers(raw);
  if (servers.length === 0) throw new ConfigError(name, 'must not be empty');
  const check = url(['nats:', 'tls:']);
  for (const server of servers) check(server, name);
  return servers.join(',');
}

/** A sha256 digest in lowercase hex. */
function sha256Hex(raw: string, name: string): string {
  const value = raw.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(value)) throw new ConfigError(name, `must be a sha256 in hex (64 characters), got ${JSON.stringify(raw)}`);
  return value;
}

/** A share of a whole: a number above 0, at most 1. */
function share(raw: string, name: string): number {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1) throw new ConfigError(name, `must be a number above 0 and at most 1, got ${JSON.stringify(raw)}`);
  return n;
}

function oneOf(values: string[]) {
  return (raw: string, name: string): string => {
    if (!values.includes(raw)) throw new ConfigError(name, `must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
    return raw;
  };
}

function list(raw: string, name: string): string[] {
  const items = raw.split(',').map((c) => c.trim()).filter(Boolean);
  for (const item of items) if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(item)) throw new ConfigError(name, `invalid capability ${JSON.stringify(item)} (letters, digits, _ . : -)`);
  return items;
}

function paths(raw: string, name: string): string[] {
  const items = raw.split(':').map((p) => p.trim()).filter(Boolean);
  for (const item of items) if (!item.startsWith('/')) throw new ConfigError(name, `${JSON.stringify(item)} is not an absolute path`);
  return items;
}

function nodeId(raw: string, name: string): string {
  if (!isSafeNodeId(raw)) throw new ConfigError(name, `must be at most ${MAX_NODE_ID_LENGTH} letters, digits, _ - and single dots, starting with a letter or digit, got ${JSON.stringify(raw)}`);
  return raw;
}

/** A file this process can read (a credential, key or certificate); checked at start-up, read at connect. */
function readableFile(raw: string, name: string): string {
  const file = text(raw, name);
  try {
    fs.accessSync(file, fs.constants.R_OK);
    if (!fs.statSync(file).isFile()) throw new ConfigError(name, `${JSON.stringify(file)} is not a file`);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(name, `cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return file;
}

/** A NATS subject prefix without wildcards (an inbox prefix). */
function subjectPrefix(raw: string, name: string): string {
  if (!/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/.test(raw)) throw new ConfigError(name, `must be dot-separated tokens of letters, digits, _ $ -, got ${JSON.stringify(raw)}`);
  return raw;
}

function def(key: keyof OmoiConfig, env: string, description: string, parse: (raw: string, name: string) => unknown): Setting {
  return { key, env, description, parse: (raw) => parse(raw, env) };
}

/** The settings table; README's configuration table lists the same rows. */
export const SETTINGS: Setting[] = [
  def('nodeId', 'OMOI_NODE_ID', 'Node identity in the cluster: at most 58 letters, digits, `_`, `-` and single dots (default `<hostname>-<http port>`).', nodeId),
  def('dataDir', 'OMOI_DATA_DIR', 'Data directory: embedded PostgreSQL and NATS stores, sandboxes, logs (default `./.omoi`).', text),
  def('databaseUrl', 'DATABASE_URL', 'PostgreSQL URL; unset → embedded PostgreSQL in the data directory.', url(['postgres:', 'postgresql:'])),
  def('postgresDir', 'OMOI_POSTGRES_DIR', 'Data directory of the embedded PostgreSQL (default `<data dir>/postgres`; as root, when the `postgres` user cannot enter it, a directory under `/var/lib/omoi/postgres` that it links to).', text),
  def('postgresBinaryCache', 'OMOI_POSTGRES_BINARY_CACHE', 'As root: where the embedded PostgreSQL binaries are copied for the `postgres` user to run (default `/var/cache/omoi/postgres`).', text),
  def('natsUrl', 'NATS_URL', 'NATS URL, or a comma-separated list of the URLs of one NATS cluster; unset → an embedded `nats-server -js` child process.', natsUrls),
  def('natsUser', 'NATS_USER', 'NATS user name (with `NATS_PASSWORD`) at `NATS_URL`. Without `NATS_URL` the node uses its own user of the embedded server, and `omoi` commands without `NATS_*` credentials the client user in `<data dir>/nats-client.env` (docs/security.md).', text),
  def('natsPassword', 'NATS_PASSWORD', 'Password of `NATS_USER` (never logged).', text),
  def('natsToken', 'NATS_TOKEN', 'NATS authentication token, instead of a user.', text),
  def('natsNkey', 'NATS_NKEY', 'Path of an nkey seed file to authenticate to NATS with, instead of a user.', readableFile),
  def('natsCreds', 'NATS_CREDS', 'Path of a NATS `.creds` file (user JWT and seed), instead of a user.', readableFile),
  def('natsCa', 'NATS_CA', 'Path of the CA certificate (PEM) that signed the NATS server\'s TLS certificate.', readableFile),
  def('natsCert', 'NATS_CERT', 'Path of a TLS client certificate (PEM) for NATS, with `NATS_KEY`.', readableFile),
  def('natsKey', 'NATS_KEY', 'Path of the private key (PEM) of `NATS_CERT`.', readableFile),
  def('natsInboxPrefix', 'NATS_INBOX_PREFIX', 'Subject prefix of this process\'s reply inboxes, for a NATS user allowed to subscribe only there (default `_INBOX`; the embedded server\'s client user needs `_INBOX.omoi-client`).', subjectPrefix),
  def('streamReplicas', 'OMOI_STREAM_REPLICAS', 'Replicas of each JetStream stream (and of its consumers): 3 in a NATS cluster of three servers keeps every message through the loss of one; more than 1 needs a NATS cluster with at least that many JetStream servers (default 1).', int(1, 5)),
  def('streamMaxBytes', 'OMOI_STREAM_MAX_BYTES', 'Largest size of each work-queue stream (`OMOI_IN`, `OMOI_PART`), bytes: they hold only unfinished work (a message goes when acked); when full, new commands are refused and retried, nothing stored is dropped (default 1073741824, 1 GiB).', int(1_048_576, 1024 ** 4)),
  def('httpHost', 'OMOI_HTTP_HOST', 'Address the HTTP server binds (default `127.0.0.1`).', text),
  def('httpPort', 'OMOI_HTTP_PORT', 'HTTP port; 0 picks a free one (default 7070).', int(0, 65535)),
  def('apiToken', 'OMOI_API_TOKEN', 'Bearer token for the HTTP API; unset → generated into `<data dir>/api-token`.', text),
  def('partitions', 'OMOI_PARTITIONS', 'Number of partitions, the same on every node: the first node to start records it in the database and a node with another count refuses to start (default 64).', int(1, 4096)),
  def('logLevel', 'OMOI_LOG_LEVEL', 'trace | debug | info | warn | error | fatal | silent (default info).', oneOf(LOG_LEVELS)),
  def('maxDeliver', 'OMOI_MAX_DELIVER', 'Deliveries of one message before it is dead-lettered (default 5).', int(1, 1000)),
  def('ackWaitMs', 'OMOI_ACK_WAIT_MS', 'ms JetStream waits for an ack before redelivery (default 30000).', int(1000, 3_600_000)),
  def('fetchBatch', 'OMOI_FETCH_BATCH', 'Messages pulled per partition fetch (default 128).', int(1, 10_000)),
  def('restartMax', 'OMOI_RESTART_MAX', 'Actor restarts allowed within the window before escalation (default 5).', int(0, 1000)),
  def('restartWindowMs', 'OMOI_RESTART_WINDOW_MS', 'Window for counting actor restarts, ms (default 60000).', int(1, 86_400_000)),
  def('restartBackoffMs', 'OMOI_RESTART_BACKOFF_MS', 'First restart delay, ms; doubles per restart (default 100).', int(0, 600_000)),
  def('restartBackoffMaxMs', 'OMOI_RESTART_BACKOFF_MAX_MS', 'Largest restart delay, ms (default 10000).', int(0, 3_600_000)),
  def('idlePassivateMs', 'OMOI_IDLE_PASSIVATE_MS', 'Idle time before an entity actor is passivated, ms (default 300000).', int(10, 86_400_000)),
  def('shutdownGraceMs', 'OMOI_SHUTDOWN_GRACE_MS', 'Graceful shutdown bound for in-flight work, ms (default 10000).', int(0, 600_000)),
  def('heartbeatMs', 'OMOI_HEARTBEAT_MS', 'Node heartbeat interval, ms; leases last three (default 2000).', int(100, 600_000)),
  def('agentRegistrationTimeoutMs', 'OMOI_AGENT_REGISTRATION_TIMEOUT_MS', 'A remote agent without a first heartbeat this long after registering is removed, ms (default 60000).', int(100, 86_400_000)),
  def('agentDegradedAfterMs', 'OMOI_AGENT_DEGRADED_AFTER_MS', 'No heartbeat this long → agent `degraded`, ms (default 30000).', int(100, 86_400_000)),
  def('agentFailedAfterMs', 'OMOI_AGENT_FAILED_AFTER_MS', 'No heartbeat this long → agent `failed`, its tasks requeued, ms (default 90000).', int(100, 86_400_000)),
  def('agentRestartCooldownMs', 'OMOI_AGENT_RESTART_COOLDOWN_MS', 'A failed agent may come back only after this long, ms (default 10000).', int(0, 86_400_000)),
  def('agentRestartMax', 'OMOI_AGENT_RESTART_MAX', 'Comebacks a failed agent may make before it is refused for good (default 3).', int(0, 1000)),
  def('budgetWarnShare', 'OMOI_BUDGET_WARN_SHARE', 'Share of a ticket\'s or agent\'s budget limit at which `budget.warning` is published, unless the budget says otherwise (default 0.8).', share),
  def('budgetOnExceeded', 'OMOI_BUDGET_ON_EXCEEDED', 'What a ticket over budget does with its running attempts, unless its budget says otherwise: `finish` (they finish) or `stop` (they are stopped and requeued for after a raise) (default finish).', oneOf(['finish', 'stop'])),
  def('attemptSilenceMs', 'OMOI_ATTEMPT_SILENCE_MS', 'An `assigned` or `running` attempt with no progress and no sign of its agent (heartbeat, or the local executor holding it) this long is requeued, once per attempt, ms (default 120000).', int(100, 86_400_000)),
  def('signatureMaxAgeMs', 'OMOI_SIGNATURE_MAX_AGE_MS', 'A signed remote-agent message whose `Omoi-Time` is further than this from the node\'s clock, either way, is refused (`replayed`); accepted message ids are kept twice this long, ms (default 300000).', int(1_000, 86_400_000)),
  def('localAgentCapabilities', 'OMOI_LOCAL_AGENT_CAPABILITIES', 'Comma-separated capabilities of this node\'s local agent (default none).', list),
  def('agentCommand', 'OMOI_AGENT_COMMAND', 'Command template for `kind: agent` tasks, run in the sandbox: `{prompt_file}` `{task_file}` `{result_file}` `{task_id}` `{ticket_id}` are filled in (default unset).', text),
  def('agentCommandSha256', 'OMOI_AGENT_COMMAND_SHA256', 'sha256 (hex) the binary of the local agent\'s command (`OMOI_AGENT_COMMAND`\'s first word, found on PATH) must have; a node whose binary differs has its local agent refused (`checksum_mismatch`) (default unset: not checked).', sha256Hex),
  def('agentMinDiskPerSlotMb', 'OMOI_AGENT_MIN_DISK_PER_SLOT_MB', 'Free disk an agent needs for sandboxes per slot of its capacity, MiB; a registration reporting less is refused (`insufficient_disk`); 0 = not checked (default 64).', int(0, 10_000_000)),
  def('localAgentCapacity', 'OMOI_LOCAL_AGENT_CAPACITY', 'Tasks this node\'s local agent runs at once (default 2).', int(1, 1000)),
  def('sandboxPool', 'OMOI_SANDBOX_POOL', 'Idle task sandboxes kept warm for reuse, over all repositories; 0 = off, a sandbox per attempt (default 64).', int(0, 10_000)),
  def('sandboxPoolPerRepository', 'OMOI_SANDBOX_POOL_PER_REPOSITORY', 'Idle pooled sandboxes kept per repository (default 32).', int(1, 10_000)),
  def('sandbox', 'OMOI_SANDBOX', 'How task commands are isolated: `bwrap` (bubblewrap; start fails without it) or `none` (unsandboxed); unset = bubblewrap if it runs here, else task commands are refused.', oneOf(['bwrap', 'none'])),
  def('sandboxWritable', 'OMOI_SANDBOX_WRITABLE', 'Absolute directories, `:`-separated, that task commands may write besides their sandbox, under bubblewrap (default none).', paths),
  def('sandboxPoolIdleMs', 'OMOI_SANDBOX_POOL_IDLE_MS', 'An idle pooled sandbox is removed after this long, ms (default 60000).', int(10, 86_400_000)),
  def('maxConflictsAutoResolve', 'OMOI_MAX_CONFLICTS_AUTO_RESOLVE', 'Most conflicted files a merge hands to its ticket\'s `resolver_command`, for tickets that do not set `max_conflicts_auto_resolve`; above it the join is blocked with `too_many_conflicts` for a person (default 20).', int(0, 1_000_000)),
  def('cloneRetainFinishedMs', 'OMOI_CLONE_RETAIN_FINISHED_MS', 'A finished ticket keeps its link to the node\'s clone of its repository this long, ms; a clone no ticket links to is removed (default 604800000, 7 days).', int(0, 3_153_600_000)),
  def('alertDeliveryMaxAttempts', 'OMOI_ALERT_DELIVERY_MAX_ATTEMPTS', 'Attempts at delivering an alert notification to one route before it is recorded `failed`; retries back off exponentially from 2 s to 10 min, with jitter (default 8).', int(1, 100)),
  def('webhookDeliveryMaxAttempts', 'OMOI_WEBHOOK_DELIVERY_MAX_ATTEMPTS', 'Attempts at delivering an event to one webhook subscription before it is recorded `failed`; retries back off exponentially from 2 s to 10 min, with jitter (default 8).', int(1, 100)),
  def('pushMaxAttempts', 'OMOI_PUSH_MAX_ATTEMPTS', 'Attempts at pushing a completed ticket\'s branch to its delivery remote before its delivery is `failed` (`omoi deliver` tries again); retries back off exponentially from `OMOI_PUSH_RETRY_BASE_MS` to 10 min, with jitter (default 8).', int(1, 100)),
  def('pushRetryBaseMs', 'OMOI_PUSH_RETRY_BASE_MS', 'Delay after a ticket push\'s first failed attempt, ms, doubled per attempt up to 10 min (default 2000).', int(10, 600_000)),
  def('pushTimeoutMs', 'OMOI_PUSH_TIMEOUT_MS', 'Longest one push of a ticket\'s branch may take, and its pull request command after it, ms; a node that dies mid-push leaves it to another node after three times this (default 600000).', int(1000, 86_400_000)),
  def('retentionProcessedMs', 'OMOI_RETENTION_PROCESSED_MS', 'Ids of processed messages (`omoi_processed_message`, which make redelivery harmless) are kept this long, ms; at least the streams\' duplicate window, 10 minutes, and `OMOI_ACK_WAIT_MS`, or the node refuses to start (default 86400000, a day).', int(1, 3_153_600_000)),
  def('retentionEventsMs', 'OMOI_RETENTION_EVENTS_MS', 'Rows of the event log (`omoi_event`) are kept this long, ms (default 604800000, 7 days).', int(1, 3_153_600_000)),
  def('retentionDeadLettersMs', 'OMOI_RETENTION_DEAD_LETTERS_MS', 'Dead letters retried or discarded this long ago are removed, ms; open ones are kept until someone decides them (default 2592000000, 30 days).', int(1, 3_153_600_000)),
  def('retentionAuditMs', 'OMOI_RETENTION_AUDIT_MS', 'Audit rows (`omoi_audit`) and ended partition holdings (`omoi_lease_history`) are kept this long, ms (default 7776000000, 90 days).', int(1, 3_153_600_000)),
  def('retentionAlertsMs', 'OMOI_RETENTION_ALERTS_MS', 'Resolved alerts (`omoi_alert`) and their delivered or failed notifications (`omoi_alert_delivery`) are kept this long, ms; open alerts and pending deliveries are kept (default 2592000000, 30 days).', int(1, 3_153_600_000)),
  def('retentionWebhooksMs', 'OMOI_RETENTION_WEBHOOKS_MS', 'Delivered or failed webhook deliveries (`omoi_webhook_delivery`), removed subscriptions, and the ids of GitHub deliveries received (`omoi_github_delivery`: a redelivery older than this is applied again) are kept this long, ms (default 2592000000, 30 days).', int(1, 3_153_600_000)),
  def('retentionMemoryMs', 'OMOI_RETENTION_MEMORY_MS', 'Memory of past work (`omoi_memory`: task results, failure reasons, merge resolutions recalled into starting tasks and searched with `omoi memory search`) is kept this long, ms (default 15552000000, 180 days).', int(1, 3_153_600_000)),
  def('retentionTaskLogsMs', 'OMOI_RETENTION_TASK_LOGS_MS', 'The end of each attempt\'s output (`omoi_task_log`: its last 64 KiB, kept when its command ends, shown once the node that ran it is gone) is kept this long, ms (default 2592000000, 30 days).', int(1, 3_153_600_000)),
  def('retentionSweepMs', 'OMOI_RETENTION_SWEEP_MS', 'How often the retention sweep removes rows past their retention, ms; one node at a time (default 300000).', int(100, 86_400_000)),
  def('taskStallMs', 'OMOI_TASK_STALL_MS', 'A `running` attempt with no output (local agent) and no `task.progress` report this long is stalled (`task.stalled` event, once per attempt), ms (default 900000, 15 min).', int(100, 86_400_000)),
  def('taskStallAction', 'OMOI_TASK_STALL_ACTION', 'What happens to a stalled attempt: `alert` leaves it running for a person; `restart` stops it and retries it, counted as a failed attempt with reason `stalled` (default alert).', oneOf(['alert', 'restart'])),
  def('ticketStallMs', 'OMOI_TICKET_STALL_MS', 'An open or running ticket whose state has not changed this long raises `ticket.stalled`, once per stall, ms (default 3600000, 1 h).', int(100, 31_536_000_000)),
  def('stopAckTimeoutMs', 'OMOI_STOP_ACK_TIMEOUT_MS', 'A remote agent told to stop an attempt (cancelled, expired) keeps its slot until it acknowledges (`agent.stop_acknowledged`); without an acknowledgement this long the slot is freed anyway, with an `agent.stopped` event (`unacknowledged`); a drain or shutdown it has not acknowledged (`agent.control_acknowledged`) this long turns `overdue` (`agent.control_overdue`), ms (default 60000).', int(100, 86_400_000)),
  def('breakerThreshold', 'OMOI_BREAKER_THRESHOLD', 'Consecutive failures of one outside dependency (a git remote, a resolver or agent command, an alert route) that open its circuit breaker (default 5).', int(1, 1000)),
  def('breakerHalfOpenMs', 'OMOI_BREAKER_HALF_OPEN_MS', 'An open circuit breaker lets one trial call through after this long, ms (default 30000).', int(10, 86_400_000)),
  def('memoryContextLimit', 'OMOI_MEMORY_CONTEXT_LIMIT', 'Most earlier results (and, separately, most earlier conflict resolutions of its owned files) recalled from the repository\'s memory into a starting task\'s context (`context.memory`); 0 turns recall off (default 3).', int(0, 20)),
  def('memoryRecallTimeoutMs', 'OMOI_MEMORY_RECALL_TIMEOUT_MS', 'Longest a starting task\'s recall from memory may take, ms; past it (or if it fails) the task starts with no memory and a warning is logged (default 500).', int(10, 60_000)),
  def('taskApiMaxCalls', 'OMOI_TASK_API_MAX_CALLS', 'Calls a running task may make to its task API (`omoi-task add`, `split`, `progress`) within any 10 s; more, or more than 8 waiting at once, are refused with 429 `rate_limited` and `retry_after_ms`, before anything is sent (`omoi-task` waits and retries) (default 60).', int(1, 100_000)),
  def('sseMaxClients', 'OMOI_SSE_MAX_CLIENTS', 'Open live event streams (`GET /api/events/stream`) one node serves at once; one more is answered 503 `too_many_streams` (default 1000).', int(1, 100_000)),
  def('sseClientBufferBytes', 'OMOI_SSE_CLIENT_BUFFER_BYTES', 'Bytes of events a live event stream client may leave unread before the node disconnects it; it resumes with `Last-Event-ID` (default 1048576).', int(4096, 64 * 1024 * 1024)),
];
