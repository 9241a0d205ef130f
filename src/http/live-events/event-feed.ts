import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { errorMessage } from '../../errors.ts';
import type { Logger } from '../../logging/logger.ts';
import { Streams, Subjects } from '../../protocol/index.ts';

/** One domain event as the stream clients get it: its stream position, type and SSE frame. */
export interface LiveEvent {
  /** Sequence of the event in the events stream (OMOI_EVT): the SSE `id`, resumable. */
  seq: number;
  type: string;
  /** `ticket_id` of the payload, for the `ticket_id` filter. */
  ticketId: string | undefined;
  /** The envelope's `time` (publish time), ms since the epoch. */
  time: number;
  /** `id: …\nevent: …\ndata: …\n\n`, built once and written to every client. */
  frame: string;
}

/** Who gets the feed's events (a stream client). */
export interface FeedListener { offer(event: LiveEvent): void; heartbeat(): void }

/** Why a resume cannot be served from the stream: the client must reload its state. */
export class ResumeGone extends Error {}

/** Most events one resume reads back from the stream; an older position gets a `reset`. */
export const MAX_RESUME_EVENTS = 10_000;

/** SSE event names are one line; types are protocol names (`ticket.created`). */
const SAFE_TYPE = /^[a-z0-9_.-]{1,100}$/i;

/**
 * The node's one subscription to the domain events (`omoi.evt.>`), read from the events
 * stream (an ordered consumer), so every node sees every node's events, fanned out to the
 * open `/api/events/stream` clients. Each event is decoded and framed once, whatever the
 * number of clients; a listener's `offer` never waits (back-pressure is the client's own,
 * see stream-client.ts). A heartbeat comment goes to every listener every `heartbeatMs`.
 */
export class EventFeed {
  private readonly listeners = new Set<FeedListener>();
  private messages?: ConsumerMessages;
  private done?: Promise<void>;
  private timer?: NodeJS.Timeout;
  /** The newest stream position this feed has passed (or skipped, undecodable) to its listeners. */
  private last = 0;

  private constructor(private readonly deps: { js: JetStreamClient; jsm: JetStreamManager; log: Logger; heartbeatMs: number }) {}

  /** Subscribes from the stream's end (what is already stored is read back only on resume). */
  static async start(deps: { js: JetStreamClient; jsm: JetStreamManager; log: Logger; heartbeatMs?: number }): Promise<EventFeed> {
    const feed = new EventFeed({ ...deps, heartbeatMs: deps.heartbeatMs ?? 15_000 });
    const info = await deps.jsm.streams.info(Streams.events);
    feed.last = info.state.last_seq;
    const consumer = await deps.js.consumers.get(Streams.events, {
      filter_subjects: Subjects.eventsAll, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: feed.last + 1,
    });
    const messages = await consumer.consume({ max_messages: 512 });
    feed.messages = messages;
    feed.done = (async () => {
      for await (const m of messages) feed.publish(m);
    })().catch((err) => deps.log.error({ err: errorMessage(err) }, 'the live event feed ended'));
    feed.timer = setInterval(() => {
      for (const l of feed.listeners) l.heartbeat();
    }, feed.deps.heartbeatMs);
    feed.timer.unref();
    return feed;
  }

  /** The newest position passed to listeners: a client attaching now gets everything after it live. */
  get position(): number {
    return this.last;
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  add(listener: FeedListener): void {
    this.listeners.add(listener);
  }

  remove(listener: FeedListener): void {
    this.listeners.delete(listener);
  }

  /**
   * The events after `after` up to `upTo` (inclusive), read back from the stream, in order.
   * Throws `ResumeGone` when some of them are no longer stored (the stream's age or size
   * limit dropped them), when `after` is past the stream's end, or when there are more than
   * MAX_RESUME_EVENTS positions to read. Stops early once `wanted()` is false (the client left).
   */
  async replay(after: number, upTo: number, each: (event: LiveEvent) => void, wanted: () => boolean = () => true): Promise<void> {
    if (upTo - after > MAX_RESUME_EVENTS) throw new ResumeGone(`${upTo - after} positions to read back, more than ${MAX_RESUME_EVENTS}`);
    const { state } = await this.deps.jsm.streams.info(Streams.events);
    // A position the stream never reached is from another stream (recreated, another cluster).
    if (after > state.last_seq) throw new ResumeGone(`position ${after} is past the stream's end (${state.last_seq})`);
    if (after + 1 < state.first_seq) throw new ResumeGone(`position ${after + 1} is no longer stored (the stream starts at ${state.first_seq})`);
    if (upTo <= after) return;
    const consumer = await this.deps.js.consumers.get(Streams.events, {
      filter_subjects: Subjects.eventsAll, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1,
    });
    while (wanted()) {
      const batch = await consumer.fetch({ max_messages: 256, expires: 1_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        if (m.seq > upTo) return;
        const event = toLiveEvent(m);
        if (event) each(event);
        if (m.seq >= upTo || m.info.pending === 0) return;
      }
      if (got === 0) return;
    }
  }

  /** Stops the subscription and the heartbeat; the listeners are the HTTP server's to end. Safe twice. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.messages?.close().catch(() => undefined);
    await this.done;
  }

  private publish(m: JsMsg): void {
    this.last = Math.max(this.last, m.seq);
    const event = toLiveEvent(m);
    if (!event) {
      this.deps.log.warn({ subject: m.subject, seq: m.seq }, 'the live event feed skipped an event that does not decode');
      return;
    }
    for (const l of this.listeners) l.offer(event);
  }
}

/**
 * The envelope of `m` as a live event; undefined when it is not a JSON envelope with a safe
 * type (nothing a publisher put on `omoi.evt.` can break the SSE framing).
 */
export function toLiveEvent(m: { seq: number; data: Uint8Array }): LiveEvent | undefined {
  let env: unknown;
  try {
    env = JSON.parse(new TextDecoder().decode(m.data));
  } catch {
    return undefined;
  }
  if (!env || typeof env !== 'object' || Array.isArray(env)) return undefined;
  const { type, time, payload } = env as { type?: unknown; time?: unknown; payload?: unknown };
  if (typeof type !== 'string' || !SAFE_TYPE.test(type)) return undefined;
  const ticket = payload && typeof payload === 'object' ? (payload as { ticket_id?: unknown }).ticket_id : undefined;
  // JSON.stringify writes no line breaks: the whole envelope is one `data:` line.
  return {
    seq: m.seq, type, ticketId: typeof ticket === 'string' ? ticket : undefined,
    time: typeof time === 'string' ? Date.parse(time) : Number.NaN,
    frame: `id: ${m.seq}\nevent: ${type}\ndata: ${JSON.stringify(env)}\n\n`,
  };
}
