import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { nodeOfLocalAgent } from '../../actors/local-agent.ts';
import { NotFoundError, RetryableError, TerminalError } from '../../errors.ts';
import type { AttemptRef, OutputMessage, OutputTail } from '../../executor/index.ts';
import { AttemptUsageEntity, FileClaimEntity, TaskEntity, type TaskRow } from '../../persistence/index.ts';
import { Id } from '../../protocol/index.ts';
import { errorAnswer, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { openSseResponse } from '../sse-response.ts';
import { plainRow as plain } from '../plain-row.ts';
import { paramId, queryInt } from '../request-input.ts';
import { taskAttempts } from '../task-attempts.ts';

/** Bounds of the log routes: lines of a tail (default, most), and how often a stream looks whether its attempt is still running. */
export const LOG_LIMITS = { defaultLines: 200, maxLines: 2000, checkEveryMs: 1_000, keepAliveMs: 15_000 } as const;

const TaskParams = Type.Object({ id: Id, task: Id });
const LogQuery = Type.Object({
  attempt: Type.Optional(Type.Integer({ minimum: 1, description: 'which attempt (default: the task\'s latest)' })),
  tail: Type.Optional(Type.Integer({ minimum: 1, maximum: LOG_LIMITS.maxLines, default: LOG_LIMITS.defaultLines, description: `this many last lines (1 to ${LOG_LIMITS.maxLines}; never more than 64 KiB)` })),
});
const Tail = Type.Object({
  ticket_id: Type.String(), task_id: Type.String(), attempt: Type.Integer(),
  running: Type.Optional(Type.Boolean({ description: 'the attempt may still print' })),
  available: Type.Boolean({ description: 'false: no live node has its output (`note` says why)' }),
  node_id: Type.Union([Type.String(), Type.Null()], { description: 'the node that ran it' }),
  lines: Type.Array(Type.String()), truncated: Type.Boolean({ description: 'earlier output was left out' }),
  size: Type.Integer({ minimum: 0, description: 'the log\'s size in bytes: live output follows from this offset' }),
  note: Type.Optional(Type.String()),
}, { description: 'The end of an attempt\'s output (the node\'s API token masked)' });
const tags = ['tickets'];

/** States in which an attempt's command may still print. */
const RUNNING = new Set(['assigned', 'running']);

/**
 * One task, with everything the task view shows (viewer):
 * - `GET /api/tickets/:id/tasks/:task`: the task row, its claims, its attempts.
 * - `GET …/log?attempt=&tail=N`: the last N lines (≤ 2000, and ≤ 64 KiB) of an attempt's output
 *   (default: its latest attempt), read from the node that has it (see `TaskOutput`).
 * - `GET …/log/stream?attempt=&tail=N`: Server-Sent Events: `tail` (as above), then `output`
 *   (`{offset, text, skipped?}`) as the command prints, then `end` (`{reason}`: `done`, the
 *   command ended; `attempt_over`, the task left that attempt; `not_started`; `unavailable`,
 *   this node cannot reach NATS) and the end of the response; a client more than
 *   `sseClientBufferBytes` behind is disconnected. At most `sseMaxClients` log streams per node
 *   (counted apart from the event streams); one more is answered 503 `too_many_streams`.
 */
export async function taskDetailRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  let open = 0;
  const closers = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const close of [...closers]) close();
  });

  app.get('/tickets/:id/tasks/:task', {
    config: { role: 'viewer' },
    schema: {
      summary: 'One task with its claims and its attempts', tags, params: TaskParams,
      response: {
        200: Type.Object({
          task: Row('the `omoi_task` row, with `claims`: `{ globs, status }` of its file claim, or null'),
          attempts: Type.Array(Type.Object({}, { additionalProperties: true, description: 'attempt, agent_id, assigned_at, started_at, ended_at, status, reason, outcome, usage, check (`{ passed, exit_code, timed_out, output }` of the task\'s check in that attempt, or null)' })),
        }, { description: 'The task' }),
        404: errorAnswer('`not_found`: no such task'),
      },
    },
  }, async (req) => {
    const task = await findTask(deps, req);
    const em = deps.db.em();
    const [claim, usage] = await Promise.all([
      em.findOne(FileClaimEntity, { ticket_id: task.ticket_id, task_id: task.id }),
      em.find(AttemptUsageEntity, { ticket_id: task.ticket_id, task_id: task.id }, { orderBy: { attempt: 'asc' } }),
    ]);
    return {
      task: { ...plain(task), claims: claim ? { globs: claim.globs, status: claim.status } : null },
      attempts: await taskAttempts(deps.db, task.ticket_id, task.id, task.attempt, usage),
    };
  });

  app.get('/tickets/:id/tasks/:task/log', {
    config: { role: 'viewer' },
    schema: {
      summary: 'The last lines of a task attempt\'s output, from whichever node ran it', tags, params: TaskParams, querystring: LogQuery,
      response: { 200: Tail, 404: errorAnswer('`not_found`: no such task or attempt'), 503: errorAnswer('`output_unavailable`: this node has no NATS connection') },
    },
  }, async (req) => {
    const task = await findTask(deps, req);
    const { attempt, lines } = logQuery(req, task);
    const ref = { ticket_id: task.ticket_id, task_id: task.id, attempt };
    const tail = attempt > 0 ? await outputOf(deps).tail(ref) : undefined;
    return { ...ref, running: attempt === task.attempt && RUNNING.has(task.status), ...tailView(tail, lines, task, attempt) };
  });

  app.get('/tickets/:id/tasks/:task/log/stream', {
    config: { role: 'viewer' },
    schema: {
      summary: 'A task attempt\'s output as it is printed (Server-Sent Events)', tags, params: TaskParams, querystring: LogQuery,
      description: 'Events: `tail` (as GET …/log), then `output` (`{offset, text, skipped?}`: whole lines, from the tail\'s end on), then `end` (`{reason}`: `done`, `attempt_over`, `not_started`, `unavailable`) and the end of the response.',
      response: {
        200: { description: 'The stream, until the attempt ends (or the client leaves, or falls too far behind)', content: { 'text/event-stream': { schema: Type.String() } } },
        404: errorAnswer('`not_found`: no such task or attempt'),
        503: errorAnswer('`too_many_streams` (retry after `Retry-After`), or `output_unavailable`'),
      },
    },
  }, async (req, reply) => {
    const task = await findTask(deps, req);
    const { attempt, lines } = logQuery(req, task);
    const output = outputOf(deps);
    if (open >= deps.config.sseMaxClients) {
      reply.header('retry-after', '5');
      throw new TerminalError('too_many_streams', `this node serves ${deps.config.sseMaxClients} log streams already (OMOI_SSE_MAX_CLIENTS); retry later or poll the log`, {}, 503);
    }
    const ref: AttemptRef = { ticket_id: task.ticket_id, task_id: task.id, attempt };
    const sse = openStream(reply, deps.config.sseClientBufferBytes);
    open++;
    let unfollow = () => {};
    let timer: NodeJS.Timeout | undefined;
    const close = () => {
      if (!closers.delete(close)) return;
      open--;
      unfollow();
      clearInterval(timer);
      sse.end();
    };
    closers.add(close);
    reply.raw.on('close', close); // the client left (or a slow one was cut off)
    const end = (reason: string) => {
      sse.send('end', { reason });
      close();
    };
    if (attempt === 0) return end('not_started');

    // Follow first, read the tail second: nothing printed in between is lost; chunks the tail already holds are cut.
    const early: OutputMessage[] = [];
    let size: number | undefined;
    const deliver = (m: OutputMessage) => {
      if (size === undefined) return void early.push(m);
      const text = Buffer.from(m.text);
      const from = Math.max(0, size - m.offset);
      if (from < text.length || m.skipped) sse.send('output', { offset: m.offset + from, text: text.subarray(from).toString('utf8'), ...(m.skipped ? { skipped: m.skipped } : {}) });
      size = Math.max(size, m.offset + text.length);
      if (m.done) end('done');
    };
    let tail: OutputTail | undefined;
    try {
      unfollow = output.follow(ref, deliver);
      tail = await output.tail(ref);
    } catch (err) {
      // The node's NATS connection is closing: this stream cannot follow anything.
      req.log.debug({ err: (err as Error).message, ...ref }, 'could not follow task output');
      return end('unavailable');
    }
    if (!closers.has(close)) return;
    sse.send('tail', { ...ref, ...tailView(tail, lines, task, attempt) });
    size = tail?.size ?? 0;
    for (const m of early.splice(0)) deliver(m);
    if (!closers.has(close)) return;

    // An attempt that is over (or whose node went away, or that ran on a remote agent) sends no `done`: the row says so.
    let lastCheck = Date.now();
    let over = 0;
    const check = async () => {
      const row = await deps.db.em().findOne(TaskEntity, { ticket_id: task.ticket_id, id: task.id }, { disableIdentityMap: true });
      if (row && row.attempt === attempt && RUNNING.has(row.status)) return;
      if (++over >= 2) end('attempt_over'); // one more look: its last chunk and `done` may be on their way
    };
    timer = setInterval(() => {
      void check().catch(() => undefined);
      if (Date.now() - lastCheck >= LOG_LIMITS.keepAliveMs) {
        lastCheck = Date.now();
        sse.comment('keep-alive');
      }
    }, LOG_LIMITS.checkEveryMs);
    timer.unref();
  });
}

async function findTask(deps: HttpDeps, req: FastifyRequest): Promise<TaskRow> {
  const ticketId = paramId(req.params, 'id');
  const taskId = paramId(req.params, 'task');
  const task = await deps.db.em().findOne(TaskEntity, { ticket_id: ticketId, id: taskId });
  if (!task) throw new NotFoundError('task', `${ticketId}/${taskId}`);
  return task;
}

function logQuery(req: FastifyRequest, task: TaskRow): { attempt: number; lines: number } {
  const attempt = queryInt(req.query, 'attempt', { min: 1, max: 1_000_000 }) ?? task.attempt;
  if (attempt > task.attempt) throw new NotFoundError('attempt', `${task.ticket_id}/${task.id}/${attempt}`);
  return { attempt, lines: queryInt(req.query, 'tail', { min: 1, max: LOG_LIMITS.maxLines, default: LOG_LIMITS.defaultLines }) };
}

function outputOf(deps: HttpDeps): NonNullable<HttpDeps['taskOutput']> {
  if (!deps.taskOutput) throw new RetryableError('output_unavailable', 'this node cannot read task output (no NATS connection)');
  return deps.taskOutput;
}

/** The last `lines` lines of a tail, and where it came from; or why there is none. */
function tailView(tail: OutputTail | undefined, lines: number, task: TaskRow, attempt: number): Record<string, unknown> {
  if (!tail) {
    const note = attempt === 0 ? 'the task has not started'
      : task.agent_id && !nodeOfLocalAgent(task.agent_id) ? `attempt ${attempt} ran on remote agent ${task.agent_id}: its output is not collected`
        : `no live node has the output of attempt ${attempt} (the node that ran it is down, or it printed nothing yet)`;
    return { available: false, node_id: null, lines: [], truncated: false, size: 0, note };
  }
  const all = tail.text.split('\n');
  if (all.at(-1) === '') all.pop();
  const kept = all.slice(-lines);
  return { available: true, node_id: tail.node_id, lines: kept, truncated: tail.truncated || kept.length < all.length, size: tail.size };
}

/** A hijacked SSE response: `send` writes an event; a client more than `bufferBytes` behind is disconnected (its socket destroyed). */
function openStream(reply: FastifyReply, bufferBytes: number) {
  const res = openSseResponse(reply);
  res.write(': connected\n\n');
  const write = (text: string) => {
    if (res.writableEnded || res.destroyed) return;
    res.write(text);
    if (res.writableLength > bufferBytes) res.destroy();
  };
  return {
    send: (event: string, data: unknown) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
    comment: (text: string) => write(`: ${text}\n\n`),
    end: () => { if (!res.writableEnded) res.end(); },
  };
}
