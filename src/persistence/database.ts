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
 * migrations. Throws `RetryableError` naming the URL's host if it never answers.
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
  const applied = await orm.getMigrator().up();
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

function safeHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return '(unparseable url)';
  }
}
