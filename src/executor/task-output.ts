import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { errorMessage } from '../errors.ts';
import { isSafeId } from '../ids.ts';
import { maskSecrets } from '../redact.ts';
import type { Logger } from '../logging/logger.ts';
import { TaskLogEntity, type Database } from '../persistence/index.ts';
import { Subjects } from '../protocol/index.ts';
import { taskLogFile } from '../sandbox/index.ts';
import { followOutput } from './output-follower.ts';

/** One attempt of one task. */
export interface AttemptRef { ticket_id: string; task_id: string; attempt: number }

/** The end of an attempt's output, from the node that holds its log. */
export interface OutputTail {
  node_id: string;
  /** The log's size in bytes: live chunks from this offset on follow it. */
  size: number;
  text: string;
  /** The log holds more than `text` (older output was left out). */
  truncated: boolean;
}

/** A chunk of live output on `omoi.log.<ticket>.<task>.<attempt>`; `done`: the attempt's command ended, nothing follows. */
export interface OutputMessage { offset: number; text: string; skipped?: number; done?: boolean }

/** Bounds: the most a tail answer carries, how long a tail request waits for the node that has it. */
export const OUTPUT_LIMITS = { tailBytes: 64 * 1024, requestTimeoutMs: 2_000, followEveryMs: 300 } as const;

/**
 * A task's output, readable from any node (invariant 8: any node's dashboard shows any task).
 * The output itself stays where the command ran, in its log file
 * (`<dataDir>/logs/<ticket>/<task>-<attempt>/<task>.log`); the cluster reaches it over core
 * NATS, node users only (clients cannot subscribe to `omoi.log.>`):
 * 1. While an attempt runs, its node's executor publishes what the command appends, line by
 *    line, on `Subjects.taskOutput` (`publishWhileRunning`), and `done: true` when it ends.
 *    Not stored: a node that subscribes later reads the tail first (2.), then follows.
 * 2. `tail()` reads the end of an attempt's log: from this node's disk when it is here, else
 *    by a request on `omoi.log.tail` that only the node holding the log answers (`serve()`).
 *    A log on no live node (its node is down, or the attempt ran on a remote agent, whose
 *    output Omoi never sees) gives `undefined` after `requestTimeoutMs`.
 * 3. Bounded: a tail carries at most `tailBytes`; a follower skips (and says so) what grows
 *    faster than 64 KiB per look. The log file itself is the command's whole output.
 * 4. The node's secrets (its API token) are masked in everything published or answered, by
 *    as many `*` as they have bytes, so offsets into the log stay exact.
 * 5. The end outlives the node: when an attempt's command has ended (`stop()`), the tail of its
 *    log is kept in `omoi_task_log` (best effort: a failure is logged, the attempt unaffected).
 *    `tail()` reads it when the log is not on this node's disk, before asking the others, so an
 *    ended attempt's output shows after its node died or its data directory was deleted.
 */
export class TaskOutput {
  private sub: Subscription | undefined;

  constructor(private readonly deps: { nc: NatsConnection; db: Database; dataDir: string; nodeId: string; secrets: string[]; log: Logger }) {}

  /** Where an attempt's output is written on the node that runs it. */
  logFile(ref: AttemptRef): string {
    return taskLogFile(path.join(this.deps.dataDir, 'logs', ref.ticket_id, `${ref.task_id}-${ref.attempt}`), ref.task_id);
  }

  /** Starts answering tail requests for the logs on this node's disk. Safe to call twice; `close()` stops. */
  serve(): void {
    if (this.sub) return;
    this.sub = this.deps.nc.subscribe(Subjects.taskOutputTail, {
      callback: (err, msg) => {
        if (err) return;
        void this.answer(msg).catch((e) => this.deps.log.debug({ err: errorMessage(e) }, 'could not answer a task output tail request'));
      },
    });
  }

  close(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  /** Follows `ref`'s log while its command runs and publishes what it appends; `stop()` publishes the rest and `done`. */
  publishWhileRunning(ref: AttemptRef): { stop(): Promise<void> } {
    const subject = Subjects.taskOutput(ref.ticket_id, ref.task_id, ref.attempt);
    const send = (m: OutputMessage) => {
      try {
        this.deps.nc.publish(subject, JSON.stringify(m));
      } catch {
        // Best effort: a follower that missed a chunk reads the tail again when it reconnects.
      }
    };
    let size = 0;
    const follower = followOutput(this.logFile(ref), OUTPUT_LIMITS.followEveryMs, (chunk) => {
      size = chunk.offset + Buffer.byteLength(chunk.text);
      send({ offset: chunk.offset, text: this.mask(chunk.text), ...(chunk.skipped ? { skipped: chunk.skipped } : {}) });
    });
    return {
      stop: async () => {
        await follower.stop();
        send({ offset: size, text: '', done: true });
        void this.keep(ref); // off the attempt's path: its result does not wait for this write
      },
    };
  }

  /** Calls `onMessage` with each live chunk of `ref`'s output until the returned function is called. */
  follow(ref: AttemptRef, onMessage: (m: OutputMessage) => void): () => void {
    const sub = this.deps.nc.subscribe(Subjects.taskOutput(ref.ticket_id, ref.task_id, ref.attempt), {
      callback: (err, msg) => {
        if (err) return;
        const m = parseMessage(msg);
        if (m) onMessage(m);
      },
    });
    return () => sub.unsubscribe();
  }

  /** The last `bytes` (≤ `tailBytes`) of `ref`'s output: from this node's disk, else from the node that has it; `undefined` if none answers. */
  async tail(ref: AttemptRef, bytes: number = OUTPUT_LIMITS.tailBytes): Promise<OutputTail | undefined> {
    const local = await this.readTail(ref, bytes);
    if (local) return local;
    const kept = await this.kept(ref, bytes);
    if (kept) return kept;
    try {
      const reply = await this.deps.nc.request(Subjects.taskOutputTail, JSON.stringify({ ...ref, bytes }), { timeout: OUTPUT_LIMITS.requestTimeoutMs });
      const t = reply.json<OutputTail>();
      return typeof t?.text === 'string' && typeof t.size === 'number' ? t : undefined;
    } catch {
      return undefined; // no responders, or none within the timeout: no live node has it
    }
  }

  /** Keeps the end of an ended attempt's log in the database (invariant 5). */
  private async keep(ref: AttemptRef): Promise<void> {
    try {
      const tail = await this.readTail(ref, OUTPUT_LIMITS.tailBytes);
      if (!tail || tail.size === 0) return; // the command printed nothing, or never started: nothing to keep
      await this.deps.db.em().createQueryBuilder(TaskLogEntity)
        .insert({ ...ref, node_id: tail.node_id, size: tail.size, text: tail.text, truncated: tail.truncated, created_at: new Date() })
        .onConflict(['ticket_id', 'task_id', 'attempt']).merge().execute();
    } catch (err) {
      this.deps.log.warn({ ...ref, err: errorMessage(err) }, 'could not keep the end of the attempt\'s output');
    }
  }

  /** The kept end of an ended attempt's log, cut to its last `bytes` (whole lines); `undefined` if none or unreadable. */
  private async kept(ref: AttemptRef, bytes: number): Promise<OutputTail | undefined> {
    let row;
    try {
      row = await this.deps.db.em().findOne(TaskLogEntity, ref, { disableIdentityMap: true });
    } catch (err) {
      this.deps.log.debug({ ...ref, err: errorMessage(err) }, 'could not read the kept output of an attempt');
      return undefined;
    }
    if (!row) return undefined;
    const want = Math.max(0, Math.min(OUTPUT_LIMITS.tailBytes, Math.floor(bytes)));
    const all = Buffer.from(row.text, 'utf8');
    if (all.length <= want) return { node_id: row.node_id, size: Number(row.size), text: row.text, truncated: row.truncated };
    const cut = all.subarray(all.length - want).toString('utf8');
    return { node_id: row.node_id, size: Number(row.size), text: fromLineStart(cut), truncated: true };
  }

  private async answer(msg: Msg): Promise<void> {
    let req: unknown;
    try {
      req = msg.json();
    } catch {
      return;
    }
    const ref = attemptRefOf(req);
    if (!ref) return;
    const bytes = (req as { bytes?: unknown }).bytes;
    const tail = await this.readTail(ref, typeof bytes === 'number' ? bytes : OUTPUT_LIMITS.tailBytes);
    if (tail) msg.respond(JSON.stringify(tail)); // only the node that has it answers
  }

  private async readTail(ref: AttemptRef, bytes: number): Promise<OutputTail | undefined> {
    const want = Math.max(0, Math.min(OUTPUT_LIMITS.tailBytes, Math.floor(bytes)));
    const file = this.logFile(ref);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch {
      return undefined;
    }
    const from = Math.max(0, size - want);
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(size - from);
      const { bytesRead } = await fh.read(buf, 0, buf.length, from);
      let text = buf.subarray(0, bytesRead).toString('utf8');
      if (from > 0) text = fromLineStart(text);
      return { node_id: this.deps.nodeId, size: from + bytesRead, text: this.mask(text), truncated: from > 0 };
    } finally {
      await fh.close();
    }
  }

  /** Each secret becomes as many `*` as it has bytes (`maskSecrets`): offsets into the log stay exact for followers. */
  private mask(text: string): string {
    return maskSecrets(text, this.deps.secrets);
  }
}

/** The end of a log cut at a byte offset, from its first whole line on (no half first line). */
function fromLineStart(text: string): string {
  return text.slice(text.indexOf('\n') + 1);
}

function attemptRefOf(v: unknown): AttemptRef | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { ticket_id, task_id, attempt } = v as Record<string, unknown>;
  if (!isSafeId(ticket_id) || !isSafeId(task_id) || typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 1) return undefined;
  return { ticket_id, task_id, attempt };
}

function parseMessage(msg: Msg): OutputMessage | undefined {
  try {
    const m = msg.json<OutputMessage>();
    return typeof m?.offset === 'number' && typeof m.text === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}
