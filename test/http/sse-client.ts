import http from 'node:http';

/** One Server-Sent Event as a client parsed it. */
export interface SseEvent { id: string | undefined; event: string; data: string }

/** An open `/api/events/stream` response read by node:http, parsed as SSE. */
export interface SseStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: SseEvent[];
  /** The body of a non-200 answer, parsed. */
  json?: any;
  /** Resolves when the server ended the response (or the connection broke). */
  ended: Promise<void>;
  /** Stops reading (the socket's buffers fill, as with a client that cannot keep up). */
  pause(): void;
  resume(): void;
  close(): void;
  /** Waits until `pred` holds of the events received. */
  until(pred: (events: SseEvent[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
}

/** Opens `path` on `base` with `headers`; resolves once the answer's head arrived (and, for non-200, its body). */
export function openStream(base: string, path: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(path, base), { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      let waiters: Array<() => void> = [];
      let buffer = '';
      let body = '';
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      });
      const stream: SseStream = {
        status: res.statusCode ?? 0, headers: res.headers, events, ended,
        pause: () => res.pause(), resume: () => res.resume(), close: () => req.destroy(),
        until: (pred, what, timeoutMs = 30_000) => new Promise<void>((ok, fail) => {
          if (pred(events)) return ok();
          const timer = setTimeout(() => fail(new Error(`timed out waiting for ${what}; got ${events.map((e) => `${e.id}:${e.event}`).join(' ')}`)), timeoutMs);
          const check = () => {
            if (!pred(events)) return;
            clearTimeout(timer);
            waiters = waiters.filter((w) => w !== check);
            ok();
          };
          waiters.push(check);
          void ended.then(() => {
            if (pred(events)) return;
            clearTimeout(timer);
            fail(new Error(`the stream ended before ${what}; got ${events.map((e) => `${e.id}:${e.event}`).join(' ')}`));
          });
        }),
      };
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        res.on('data', (chunk: string) => { body += chunk; });
        res.on('end', () => {
          try {
            stream.json = JSON.parse(body);
          } catch {
            // not JSON
          }
          resolve(stream);
        });
        return;
      }
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const e: SseEvent = { id: undefined, event: 'message', data: '' };
          let hasData = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') e.id = value;
            else if (field === 'event') e.event = value;
            else if (field === 'data') {
              e.data = hasData ? `${e.data}\n${value}` : value;
              hasData = true;
            }
          }
          if (hasData) events.push(e);
        }
        for (const w of [...waiters]) w();
      });
      resolve(stream);
    });
    req.on('error', reject);
  });
}
