import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { newToken } from '../access/index.ts';
import { AuditChannel, auditTarget, type AuditLog } from '../audit/index.ts';
import { errorMessage, RetryableError, TerminalError } from '../errors.ts';
import { SlidingWindow } from '../limits/sliding-window.ts';
import type { Logger } from '../logging/logger.ts';
import { MAX_MESSAGE_BYTES, ProtocolError } from '../protocol/index.ts';
import { awaitOutcome, type CommandOutcomes } from './command-outcome.ts';
import { refusalStatus, TASK_ENDPOINTS, toCommand, type AttemptRef, type TaskEndpoint } from './task-requests.ts';

/**
 * The task API: how a running task (a command, or a coding agent) discovers work — adds tasks,
 * splits itself, reports progress — from inside its sandbox.
 *
 * Invariants:
 * 1. One API per attempt, on a unix socket of its own, open exactly while the attempt runs: the
 *    executor opens it before the command starts and closes it (socket and directory removed)
 *    when the command has ended, whatever the outcome. A later call finds no socket.
 * 2. Every request carries the attempt's token (`Authorization: Bearer $OMOI_TASK_TOKEN`), random
 *    per attempt: a wrong or missing one is refused (`unauthorized`, 401) and sends nothing.
 * 3. What a request sends is scoped to the attempt by construction (`toCommand`): its own ticket,
 *    its own task, its own attempt. The commands are the protocol's (`task.add`, `task.split`,
 *    `task.progress`), published to the ticket's partition with source `task:<ticket>/<task>#<attempt>`
 *    and validated by the same schemas and the same TicketActor as any other.
 * 4. Each request is answered with the command's fate, waited for at most `waitMs`: `200
 *    accepted`, or the TicketActor's refusal as 4xx with its stable code (`cycle`,
 *    `unknown_dependency`, `illegal_transition`, ...), or `202 pending` (durable, not applied
 *    yet). Each state-changing call writes one audit row (channel `task`).
 * 5. A runaway task cannot flood its ticket's partition: an attempt may make `maxCalls` calls
 *    within any `CALL_WINDOW_MS` and have `MAX_IN_FLIGHT` open at once; past either the call is
 *    refused (`rate_limited`, 429, with `retry_after_ms`) before anything is sent or audited.
 *
 * Why not the attempt's log directory for the socket: a unix socket path holds at most 107
 * bytes, and `<data dir>/logs/<ticket>/<task>-<n>/` can be longer; a short private directory
 * (mode 0700) under the system's temporary directory is bound into the sandbox instead.
 */

/** The client a task calls: `<omoi>/bin/omoi-task` (its directory is put first on the task's PATH). */
export const TASK_CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'omoi-task');

/** Environment of a task's command that names its API (documented in docs/protocol.md, *Task API*). */
export const TaskApiEnv = {
  socket: 'OMOI_TASK_SOCKET',
  token: 'OMOI_TASK_TOKEN',
  cli: 'OMOI_TASK_CLI',
} as const;

/** One attempt's open API. */
export interface OpenTaskApi {
  /** Variables for the command: the socket, the token, the client, and a PATH that finds `omoi-task`. */
  env: Record<string, string>;
  /** The directory holding the socket: the sandbox must let the command reach it. */
  dir: string;
  /** Stops answering, drops open connections, removes the socket and its directory. Safe twice. */
  close(): Promise<void>;
}

/** Opens task APIs for attempts (the local executor's seam: absent, tasks get no API). */
export interface TaskApiFactory {
  open(ref: AttemptRef): Promise<OpenTaskApi>;
}

/** How long a request waits for its command's fate before answering `202 pending`, ms. */
const OUTCOME_WAIT_MS = 10_000;

/** The window of an attempt's call limit (`maxCalls` within it), ms. */
const CALL_WINDOW_MS = 10_000;
/** Calls of an attempt waiting for their answer at once. */
const MAX_IN_FLIGHT = 8;

/** One attempt's call limit: a sliding window of its calls and how many are open. */
class CallLimit {
  private readonly window: SlidingWindow;
  private open = 0;

  constructor(maxCalls: number) {
    this.window = new SlidingWindow({ max: maxCalls, windowMs: CALL_WINDOW_MS });
  }

  /** Takes a slot for one call, or throws `rate_limited`; the caller `release`s it when answered. */
  take(): void {
    const waitMs = this.open >= MAX_IN_FLIGHT ? 100 : this.window.retryAfterMs('calls');
    if (waitMs > 0) {
      const why = this.open >= MAX_IN_FLIGHT ? `${MAX_IN_FLIGHT} calls of this attempt are still waiting for their answer` : `this attempt made its calls allowed within ${CALL_WINDOW_MS / 1000} s`;
      throw new TerminalError('rate_limited', `${why}; try again in ${waitMs} ms`, { retry_after_ms: waitMs }, 429);
    }
    this.window.record('calls');
    this.open++;
  }

  release(): void {
    this.open--;
  }
}

export class TaskApi implements TaskApiFactory {
  constructor(private readonly deps: {
    /** Publishes a command with this source and message id (throws `ProtocolError` on a schema violation). */
    publish(type: string, payload: Record<string, unknown>, id: string, source: string): Promise<void>;
    outcomes: CommandOutcomes;
    audit: AuditLog;
    log: Logger;
    waitMs?: number;
    /** Calls an attempt may make within `CALL_WINDOW_MS` (OMOI_TASK_API_MAX_CALLS). */
    maxCalls: number;
  }) {}

  async open(ref: AttemptRef): Promise<OpenTaskApi> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'omoi-task-'));
    const socket = path.join(dir, 'api.sock');
    const token = newToken();
    const closing = new AbortController();
    const limit = new CallLimit(this.deps.maxCalls);
    const server = createServer((req, res) => void this.answer(req, res, ref, token, limit, closing.signal));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socket, () => { server.off('error', reject); resolve(); });
      });
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    let closed: Promise<void> | undefined;
    return {
      dir,
      env: {
        [TaskApiEnv.socket]: socket,
        [TaskApiEnv.token]: token,
        [TaskApiEnv.cli]: TASK_CLI,
        PATH: [path.dirname(TASK_CLI), process.env.PATH].filter(Boolean).join(path.delimiter),
      },
      close: () => (closed ??= (async () => {
        closing.abort();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await rm(dir, { recursive: true, force: true });
      })()),
    };
  }

  private async answer(req: IncomingMessage, res: ServerResponse, own: AttemptRef, token: string, limit: CallLimit, closing: AbortSignal): Promise<void> {
    const principal = `task:${own.ticket_id}/${own.task_id}#${own.attempt}`;
    let audited: { command: string; target: string | null; messageId: string | null } | undefined;
    let slot = false;
    try {
      if (!bearerMatches(req.headers.authorization, token)) {
        throw new TerminalError('unauthorized', 'the task API needs this attempt\'s token: Authorization: Bearer $OMOI_TASK_TOKEN', { field: 'headers.authorization' }, 401);
      }
      limit.take();
      slot = true;
      const endpoint = (req.url ?? '').replace(/^\/+/, '').split('?')[0] ?? '';
      if (!Object.hasOwn(TASK_ENDPOINTS, endpoint)) {
        throw new TerminalError('not_found', `no endpoint ${JSON.stringify(req.url)}; POST /add, /split or /progress`, { field: 'url' }, 404);
      }
      if (req.method !== 'POST') throw new TerminalError('method_not_allowed', `use POST /${endpoint}`, { field: 'method' }, 405);
      const command = toCommand(endpoint as TaskEndpoint, await readJson(req), own);
      const id = messageId(own, req.headers['idempotency-key']);
      audited = { command: command.type, target: auditTarget(command.payload), messageId: id };
      try {
        await this.deps.publish(command.type, command.payload, id, principal);
      } catch (err) {
        if (err instanceof ProtocolError) throw requestError(err, endpoint as TaskEndpoint);
        throw new RetryableError('nats_unavailable', `could not publish ${command.type}: ${errorMessage(err)}`);
      }
      const outcome = await awaitOutcome(this.deps.outcomes, id, this.deps.waitMs ?? OUTCOME_WAIT_MS, closing);
      if (outcome.status === 'rejected') {
        throw new TerminalError(outcome.code, outcome.reason.replace(/ \[[a-z_]+\]$/, ''), { message_id: id }, refusalStatus(outcome.code));
      }
      await this.audit(principal, audited, 'accepted');
      reply(res, outcome.status === 'accepted' ? 200 : 202, { status: outcome.status, type: command.type, message_id: id, ...own });
    } catch (err) {
      const known = err instanceof TerminalError || err instanceof RetryableError;
      if (!known) this.deps.log.error({ ...own, err: errorMessage(err) }, 'task API request failed');
      const code = known ? err.code : 'internal';
      if (code === 'rate_limited') { // nothing was sent; auditing each refusal would be the flood itself
        const retryAfterMs = Number((err as TerminalError).details.retry_after_ms);
        reply(res, 429, { error: { code, message: (err as TerminalError).message.replace(` [${code}]`, ''), retry_after_ms: retryAfterMs } },
          { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) });
        return;
      }
      await this.audit(principal, audited ?? { command: `task-api${(req.url ?? '/').split('?')[0]!.slice(0, 40)}`, target: `${own.ticket_id}/${own.task_id}`, messageId: null }, `refused:${code}`);
      const field = err instanceof TerminalError && typeof err.details.field === 'string' ? err.details.field : undefined;
      const status = err instanceof TerminalError ? err.status : err instanceof RetryableError ? 503 : 500;
      const message = known ? err.message.replace(` [${code}]`, '') : 'internal error; the node logged it';
      reply(res, status, { error: { code, message, ...(field ? { field } : {}) }, ...(audited?.messageId ? { message_id: audited.messageId } : {}) });
    } finally {
      if (slot) limit.release();
    }
  }

  private audit(principal: string, call: { command: string; target: string | null; messageId: string | null }, outcome: string): Promise<void> {
    return this.deps.audit.record({ principal, role: null, channel: AuditChannel.task, command: call.command, target: call.target, outcome, message_id: call.messageId });
  }
}

/** The message id of a request: derived from its `Idempotency-Key` (a retried call is sent once), else random. */
function messageId(own: AttemptRef, key: string | string[] | undefined): string {
  if (typeof key !== 'string' || !key) return `task-api:${randomUUID()}`;
  return `task-api:${createHash('sha256').update(`${own.ticket_id}\n${own.task_id}\n${own.attempt}\n${key}`).digest('hex').slice(0, 40)}`;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_MESSAGE_BYTES) throw new TerminalError('payload_too_large', `the body is over ${MAX_MESSAGE_BYTES} bytes`, { field: '/' }, 413);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new TerminalError('malformed_json', `the body is not JSON: ${errorMessage(err)}`, { field: '/' });
  }
}

/** A schema error of the command, its field named in the request's body (`add`'s body is the task at `/payload/task`). */
function requestError(err: ProtocolError, endpoint: TaskEndpoint): TerminalError {
  const at = endpoint === 'add' ? '/payload/task' : '/payload';
  const path = err.path ?? '';
  const field = path === at ? '/' : path.startsWith(`${at}/`) ? path.slice(at.length) : path || '/';
  return new TerminalError(err.code, `${field}: ${err.reason}`, { field }, err.code === 'payload_too_large' ? 413 : 400);
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body) + '\n');
}
