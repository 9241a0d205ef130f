import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { pino } from 'pino';
import { Principals } from '../../src/access/index.ts';
import { AlertStore } from '../../src/alerts/alert-store.ts';
import { PostgresAuditLog } from '../../src/audit/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { NotFoundError, TerminalError } from '../../src/errors.ts';
import type { HttpDeps, Readiness } from '../../src/http/index.ts';
import { startHttp } from '../../src/http/index.ts';
import type { RouteAccess } from '../../src/http/access.ts';
import type { AuthFailureLimit } from '../../src/http/auth-failures.ts';
import type { Logger } from '../../src/logging/logger.ts';
import { Metrics } from '../../src/metrics.ts';
import { DeadLetterEntity, openDatabase, type Database } from '../../src/persistence/index.ts';
import { lookup, validatePayload } from '../../src/protocol/index.ts';
import { withPostgres, type TestContext } from '../harness/index.ts';

export const TOKEN = 'test-token-0123456789';

/** A command as the HTTP layer handed it to `submit`, after validation. */
export interface Submitted { type: string; payload: Record<string, unknown>; id: string }

export interface TestNode {
  url: string;
  db: Database;
  /** Every command `submit` accepted, in order. */
  submitted: Submitted[];
  /** Set what `/readyz` reports. */
  readiness: Readiness;
  metrics: Metrics;
  /** The role and audit action every `/api` route declared. */
  routes: readonly RouteAccess[];
}

/**
 * A real HTTP server on a free port over a fresh PostgreSQL database. `submit` is the seam:
 * it validates exactly as production does (protocol schemas, client commands only) and
 * records the command instead of publishing it to NATS; `beforeSubmit` may throw to play a
 * failing dependency. Everything is closed in teardown.
 */
export async function startTestNode(
  t: TestContext, opts: { beforeSubmit?: (type: string, payload: unknown) => void; authFailureLimit?: AuthFailureLimit; log?: Logger } = {},
): Promise<TestNode> {
  const { url: dbUrl } = await withPostgres(t);
  const log = opts.log ?? pino({ level: 'silent' });
  const db = await openDatabase(dbUrl, log);
  t.teardown(() => db.close());
  const metrics = new Metrics();
  const submitted: Submitted[] = [];
  const node = { db, submitted, metrics, readiness: { ready: true, checks: { database: { ok: true } } } as Readiness, url: '', routes: [] as readonly RouteAccess[] };
  const deps: HttpDeps = {
    config: loadConfig({}, { apiToken: TOKEN, httpHost: '127.0.0.1', httpPort: 0, nodeId: 'test-node' }),
    log, metrics, db,
    readiness: async () => node.readiness,
    submit: async (type, payload, submitOpts) => {
      opts.beforeSubmit?.(type, payload);
      const def = lookup(type);
      if (def?.kind !== 'command' || !def.ingress) throw new TerminalError('unknown_type', `${type} is not a client command`);
      const valid = validatePayload(type, payload) as Record<string, unknown>;
      const id = submitOpts?.id ?? randomUUID();
      submitted.push({ type, payload: valid, id });
      return { id };
    },
    deadLetters: deadLettersOver(db),
    principals: new Principals(db),
    audit: new PostgresAuditLog({ db, log }),
    alerts: new AlertStore(db),
    authFailureLimit: opts.authFailureLimit,
  };
  const server = await startHttp(deps);
  t.teardown(() => server.close());
  node.url = server.url;
  node.routes = server.routes;
  return node;
}

/** Dead-letter operations straight on `omoi_dead_letter` (production also republishes on retry). */
function deadLettersOver(db: Database): HttpDeps['deadLetters'] {
  const find = async (id: number) => {
    const row = await db.em().findOne(DeadLetterEntity, { id });
    if (!row) throw new NotFoundError('dead letter', String(id));
    return row;
  };
  const resolve = async (id: number, status: 'retried' | 'discarded') => {
    const em = db.em();
    const row = await em.findOne(DeadLetterEntity, { id });
    if (!row) throw new NotFoundError('dead letter', String(id));
    row.status = status;
    row.resolved_at = new Date();
    await em.flush();
  };
  return {
    list: (status = 'open', limit = 100) => db.em().find(DeadLetterEntity, status === 'all' ? {} : { status: status as 'open' }, { orderBy: { id: 'asc' }, limit }),
    show: async (id) => find(id).catch((err) => (err instanceof NotFoundError ? undefined : Promise.reject(err))),
    retry: (id) => resolve(id, 'retried'),
    discard: (id) => resolve(id, 'discarded'),
  };
}

export interface RawResponse { status: number; headers: http.IncomingHttpHeaders; text: string; json: any }

/**
 * One HTTP request with the path and body sent byte for byte (fetch would normalise the
 * path and refuse some methods and headers). `token` adds the bearer header.
 */
export function request(
  base: string, method: string, path: string,
  opts: { token?: string | null; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const url = new URL(base);
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization ??= `Bearer ${token}`;
  if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] ??= String(Buffer.byteLength(opts.body));
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** `request` with a JSON-encoded body. */
export function send(base: string, method: string, path: string, body?: unknown, opts: { token?: string | null; headers?: Record<string, string> } = {}) {
  return request(base, method, path, { ...opts, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** A minimal valid task spec. */
export function taskSpec(id: string, depends_on: string[] = [], extra: Record<string, unknown> = {}) {
  return { id, depends_on, run: `echo ${id}`, ...extra };
}
