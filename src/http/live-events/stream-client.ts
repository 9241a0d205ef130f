import type { ServerResponse } from 'node:http';
import type { FeedListener, LiveEvent } from './event-feed.ts';

/** What a client asked to see: one ticket's events, some types; absent → all. */
export interface StreamFilter { ticketId?: string; types?: ReadonlySet<string> }

/**
 * One open `/api/events/stream` response. Back-pressure is per client and never waits: an
 * event is written to the socket at once, and when more than `bufferBytes` are still unsent
 * (the client does not read, or reads slower than events come) the client is disconnected;
 * it reconnects with `Last-Event-ID` and reads what it missed back from the stream. So a slow
 * client costs the node at most `bufferBytes` and never delays the other clients.
 *
 * While it catches up (a resume reading back from the stream) live events wait in `held`,
 * bounded the same way; the positions it wrote (`lastSeq`) drop duplicates between the two.
 */
export class StreamClient implements FeedListener {
  private lastSeq: number;
  private held: LiveEvent[] | undefined = [];
  private heldBytes = 0;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: { filter: StreamFilter; bufferBytes: number; after: number; onClose: (why: 'slow' | 'gone' | 'ended') => void },
  ) {
    this.lastSeq = opts.after;
    res.on('close', () => this.close('gone'));
  }

  /** A live event: written now, or held while the client catches up. */
  offer(event: LiveEvent): void {
    if (this.closed) return;
    if (this.held) {
      this.held.push(event);
      this.heldBytes += event.frame.length;
      if (this.heldBytes > this.opts.bufferBytes) this.close('slow');
      return;
    }
    this.write(event);
  }

  /** An event read back from the stream on resume. */
  replayed(event: LiveEvent): void {
    this.write(event);
  }

  /** The catch-up is over: the held live events follow (those already written are dropped). */
  live(): void {
    const held = this.held ?? [];
    this.held = undefined;
    this.heldBytes = 0;
    for (const e of held) this.write(e);
  }

  /** False once the response ended. */
  get open(): boolean {
    return !this.closed;
  }

  heartbeat(): void {
    this.send(': keep-alive\n\n');
  }

  /** Tells the client its position is gone (it reloads its state, then streams without one), and ends. */
  reset(reason: string): void {
    this.send(`event: reset\ndata: ${JSON.stringify({ reason })}\n\n`);
    this.close('ended');
  }

  /** Ends the response (the node is stopping, or the client is too slow); safe twice. */
  close(why: 'slow' | 'gone' | 'ended'): void {
    if (this.closed) return;
    this.closed = true;
    this.held = undefined;
    // A slow client's unsent bytes are dropped with its socket; others get their end.
    if (why === 'slow') this.res.destroy();
    else if (!this.res.writableEnded) this.res.end();
    this.opts.onClose(why);
  }

  private write(event: LiveEvent): void {
    if (event.seq <= this.lastSeq) return;
    this.lastSeq = event.seq;
    const { ticketId, types } = this.opts.filter;
    if (ticketId !== undefined && event.ticketId !== ticketId) return;
    if (types && !types.has(event.type)) return;
    this.send(event.frame);
  }

  private send(text: string): void {
    if (this.closed) return;
    if (this.res.writableLength > this.opts.bufferBytes) {
      this.close('slow');
      return;
    }
    this.res.write(text);
  }
}
