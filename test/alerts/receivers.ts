import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { TestContext } from '../harness/index.ts';

/** One request a receiver got: headers, the exact body, and whether its signature checked out. */
export interface Received { path: string; headers: http.IncomingHttpHeaders; body: string; json: any; signatureValid: boolean | undefined }

export interface WebhookReceiver {
  url: string; port: number; received: Received[];
  /** Stops listening (the port is refused) until `listen()` again. */
  close(): Promise<void>;
  listen(): Promise<void>;
}

/**
 * A real HTTP receiver on 127.0.0.1, as an operator would write one: it checks
 * `Omoi-Signature` against the raw body with `secret` (as README shows) and answers each
 * request with `answer(n)` (n = 1, 2, ...; default 200). Closed in teardown.
 */
export async function webhookReceiver(t: TestContext, opts: {
  secret?: string; answer?: (n: number) => number; port?: number; delayMs?: number;
  /** Webhook subscriptions sign `<Omoi-Timestamp>.<body>`, alert routes the body alone. */
  timestamped?: boolean;
} = {}): Promise<WebhookReceiver> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = raw.toString('utf8');
      let json: unknown;
      try { json = JSON.parse(body); } catch { json = undefined; }
      received.push({ path: req.url ?? '', headers: req.headers, body, json, signatureValid: opts.secret === undefined ? undefined : verify(opts.secret, opts.timestamped ? Buffer.concat([Buffer.from(`${String(req.headers['omoi-timestamp'])}.`), raw]) : raw, req.headers['omoi-signature']) });
      const status = opts.answer?.(received.length) ?? 200;
      const reply = () => res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `status ${status}`);
      if (opts.delayMs) setTimeout(reply, opts.delayMs); else reply();
    });
  });
  let port = opts.port ?? 0;
  const listen = () => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      port = (server.address() as AddressInfo).port;
      resolve();
    });
  });
  const close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  await listen();
  t.teardown(() => (server.listening ? close() : undefined));
  return { get url() { return `http://127.0.0.1:${port}/hooks/omoi`; }, get port() { return port; }, received, close, listen };
}

/** What README tells receivers to do: HMAC-SHA256 of the raw body (with subscriptions: `<timestamp>.` and the body), compared in constant time. */
function verify(secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface SmtpMessage { from: string | undefined; to: string[]; raw: string }
export interface SmtpSink { host: string; port: number; messages: SmtpMessage[] }

/**
 * A real SMTP server (smtp-server) on 127.0.0.1, no TLS, no authentication, keeping every
 * message whole. `refuse` makes it answer RCPT TO with that code (e.g. 550). Closed in teardown.
 */
export async function smtpSink(t: TestContext, opts: { refuse?: number } = {}): Promise<SmtpSink> {
  const messages: SmtpMessage[] = [];
  const server = new SMTPServer({
    secure: false, authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false,
    onRcptTo(_address, _session, callback) {
      if (!opts.refuse) return callback();
      const err = new Error('mailbox unavailable') as Error & { responseCode: number };
      err.responseCode = opts.refuse;
      callback(err);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        messages.push({ from: from ? from.address : undefined, to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { host: '127.0.0.1', port, messages };
}

/** A valid `alert.raised` payload (the schema's), for the tests to publish. */
export function notification(overrides: Record<string, unknown> = {}) {
  return {
    alert_id: 'A-merge-1', kind: 'merge_unresolved' as const, severity: 'critical' as const, fingerprint: 'merge_unresolved:T1/join-D',
    title: 'T1: merge of join-D left 2 conflicted files unresolved', fields: { ticket_id: 'T1', join_id: 'join-D' },
    count: 1, first_raised_at: '2026-12-02T12:00:00.000Z', last_raised_at: '2026-12-02T12:00:00.000Z', routes: ['ops-webhook'], notification: 1,
    ...overrides,
  };
}

/** A header of a raw message, unfolded (long headers are folded over lines). */
export function mailHeader(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}
