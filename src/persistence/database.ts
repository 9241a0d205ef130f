import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { ormConfig } from '../../mikro-orm.config.ts';
import { RetryableError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';

export type { EntityManager };

/** The node's database: a MikroORM instance with migrations applied. */
export interface Database {
  orm: MikroORM;
  /** A fresh entity manager (own identity map) for one unit of work. */
  em(): EntityManager;
  close(): Promise<void>;
}

/**
 * Connects, retrying while PostgreSQL is starting (up to `timeoutMs`), then applies pending
 * migrations (`migrate`: once, however many nodes start at the same moment). Throws
 * `RetryableError` naming the URL's host if it never answers.
 */
export async function openDatabase(url: string, log: Logger, timeoutMs = 30_000): Promise<Database> {
  const deadline = Date.now() + timeoutMs;
  let orm: MikroORM | undefined;
  let lastError: unknown;
  while (!orm && Date.now() < deadline) {
    try {
      orm = await MikroORM.init(ormConfig(url));
      if (!(await orm.isConnected())) throw new Error('not connected');
    } catch (err) {
      lastError = err;
      await orm?.close(true).catch(() => undefined);
      orm = undefined;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  if (!orm) {
    const host = safeHost(url);
    throw new RetryableError('database_unavailable', `PostgreSQL at ${host} did not answer within ${timeoutMs} ms: ${(lastError as Error)?.message}`);
  }
  // A failed migration must not leave the pool open: it would keep the process alive.
  const applied = await migrate(orm).catch(async (err: unknown) => {
    await orm.close(true).catch(() => undefined);
    throw err;
  });
  log.info({ migrations: applied.map((m) => m.name) }, 'database ready');
  const ready = orm;
  let closed = false;
  return {
    orm: ready,
    em: () => ready.em.fork(),
    close: async () => {
      if (closed) return;
      closed = true;
      await ready.close(true);
    },
  };
}

/** Key of the advisory lock that serializes migrations across nodes (`omoi` in ASCII). */
const MIGRATION_LOCK = 0x6f6d6f69;

/**
 * Applies pending migrations under a PostgreSQL advisory lock, so that nodes starting at the
 * same moment on a fresh database do not run them twice: the first applies them, the others
 * wait for the lock, then find nothing pending. The lock belongs to a transaction on a
 * connection of its own (the migrator runs on others) and ends with it, also if the process
 * dies.
 */
async function migrate(orm: MikroORM) {
  const conn = orm.em.getConnection();
  return conn.transactional(async (lock) => {
    await conn.execute('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK], 'all', lock);
    return orm.getMigrator().up();
  });
}

function safeHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return '(unparseable url)';
  }
}
