import { pino } from 'pino';
import { jetstream } from '@nats-io/jetstream';
import { loadConfig } from '../../config/index.ts';
import { errorMessage } from '../../errors.ts';
import { DeadLetters } from '../../messaging/dead-letters.ts';
import { openDatabase, type Database, type DeadLetterRow } from '../../persistence/index.ts';
import { CliError } from '../cli-error.ts';
import type { DlqStatus } from '../defaults.ts';
import { connectCli, natsTarget } from '../nats-client.ts';
import { NodeFiles, readNodeFile } from '../node-files.ts';
import { textTable } from '../text-table.ts';


export interface DlqOptions {
  natsUrl?: string;
  json?: boolean;
}

/** How long `omoi dlq` waits for PostgreSQL before saying it is not there. */
const DATABASE_TIMEOUT_MS = 5_000;
const REASON_WIDTH = 80;

/** `omoi dlq list`: the newest dead letters with `status` (default open), as a table or JSON. */
export async function dlqList(opts: DlqOptions & { status?: DlqStatus; limit?: number }): Promise<string> {
  return withDeadLetters(opts, false, async (dl) => {
    const rows = await dl.list(opts.status ?? 'open', opts.limit ?? 100);
    if (opts.json) return JSON.stringify(rows, null, 2);
    if (rows.length === 0) return `no ${opts.status === 'all' ? '' : `${opts.status ?? 'open'} `}dead letters`;
    return textTable(
      ['ID', 'STATUS', 'CODE', 'SUBJECT', 'DELIVERIES', 'CREATED', 'REASON'],
      rows.map((r) => [String(r.id), r.status, r.code, r.subject, String(r.deliveries), iso(r.created_at), shorten(r.reason)]),
    );
  });
}

/** `omoi dlq show <id>`: every field of one dead letter, the body pretty-printed when it is JSON. */
export async function dlqShow(id: number, opts: DlqOptions): Promise<string> {
  return withDeadLetters(opts, false, async (dl) => {
    const row = await dl.show(id);
    if (!row) throw new CliError(`dead letter ${id} does not exist`);
    if (opts.json) return JSON.stringify(row, null, 2);
    return describeRow(row);
  });
}

/** `omoi dlq retry <id>`: republishes the original bytes on the original subject (needs NATS). */
export async function dlqRetry(id: number, opts: DlqOptions): Promise<string> {
  return withDeadLetters(opts, true, async (dl) => {
    await dl.retry(id);
    const row = await dl.show(id);
    return `dead letter ${id} republished to ${row?.subject ?? '(unknown subject)'}; it goes through validation again`;
  });
}

/** `omoi dlq discard <id>`: marks an open dead letter discarded (kept for the record). */
export async function dlqDiscard(id: number, opts: DlqOptions): Promise<string> {
  return withDeadLetters(opts, false, async (dl) => {
    await dl.discard(id);
    return `dead letter ${id} discarded`;
  });
}

/**
 * Opens the database (and NATS when `needNats`), runs `fn`, closes both. The database URL is
 * `DATABASE_URL` (or the config file's), else the file an embedded-database node writes in
 * its data directory. Failures become `CliError`s that say what to do.
 */
async function withDeadLetters<T>(opts: DlqOptions, needNats: boolean, fn: (dl: DeadLetters) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const { url, from } = databaseUrl(config.databaseUrl, config.dataDir);
  let db: Database;
  try {
    db = await openDatabase(url, pino({ level: 'silent' }), DATABASE_TIMEOUT_MS);
  } catch (err) {
    const hint = from === 'file' ? ` (URL read from ${NodeFiles.databaseUrl(config.dataDir)}: is the node that wrote it still running?)` : '';
    throw new CliError(`cannot open the database: ${errorMessage(err)}${hint}`);
  }
  const nc = needNats ? await connectCli(natsTarget(opts.natsUrl, 'node')).catch(async (err) => {
    await db.close();
    throw err;
  }) : undefined;
  try {
    // Only `retry` needs NATS; `discard` without it does not announce `dead_letter.closed`.
    return await fn(new DeadLetters({ db, js: nc ? jetstream(nc) : undefined, source: 'omoi-cli' }));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(errorMessage(err));
  } finally {
    await nc?.drain().catch(() => nc.close());
    await db.close();
  }
}

function databaseUrl(configured: string | undefined, dataDir: string): { url: string; from: 'config' | 'file' } {
  if (configured) return { url: configured, from: 'config' };
  const file = NodeFiles.databaseUrl(dataDir);
  const url = readNodeFile(file);
  if (url) return { url, from: 'file' };
  throw new CliError(
    `DATABASE_URL is unset and ${file} does not exist: a node without DATABASE_URL runs an embedded PostgreSQL that is reachable only while it runs ` +
    `(it writes the URL to that file while it runs). Start the node with the same OMOI_DATA_DIR, or set DATABASE_URL.`,
  );
}

function describeRow(row: DeadLetterRow): string {
  const fields: Array<[string, string]> = [
    ['id', String(row.id)],
    ['status', row.status],
    ['code', row.code],
    ['reason', row.reason],
    ['subject', row.subject],
    ['type', row.type ?? '-'],
    ['message id', row.message_id ?? '-'],
    ['deliveries', String(row.deliveries)],
    ['created', iso(row.created_at)],
    ['resolved', row.resolved_at ? iso(row.resolved_at) : '-'],
  ];
  const width = Math.max(...fields.map(([k]) => k.length));
  let body = row.body;
  try {
    body = JSON.stringify(JSON.parse(row.body), null, 2);
  } catch {
    // Not JSON (often the very reason it is here): shown as received.
  }
  return [...fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`), 'body:', body].join('\n');
}

function iso(d: Date | string): string {
  return new Date(d).toISOString();
}

function shorten(text: string): string {
  const line = text.replace(/\s*\n\s*/g, ' ');
  return line.length > REASON_WIDTH ? `${line.slice(0, REASON_WIDTH - 1)}…` : line;
}
