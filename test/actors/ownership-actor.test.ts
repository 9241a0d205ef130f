import t from 'tap';
import { pino } from 'pino';
import { ActorRuntime } from '../../src/actors/actor-runtime.ts';
import { OwnershipBehavior } from '../../src/actors/ownership-actor.ts';
import { UnitOfWork } from '../../src/messaging/unit-of-work.ts';
import { Metrics } from '../../src/metrics.ts';
import { openDatabase } from '../../src/persistence/index.ts';
import { makeEnvelope } from '../../src/protocol/index.ts';
import { withPostgres } from '../harness/index.ts';

t.test('file claims are persisted per change and recovered in FIFO order by a fresh actor', async (t) => {
  const pg = await withPostgres(t);
  const db = await openDatabase(pg.url, pino({ level: 'silent' }));
  t.teardown(() => db.close());
  const runtime = () => {
    const r = new ActorRuntime({
      db, log: pino({ level: 'silent' }), metrics: new Metrics(), report: () => undefined,
      supervision: { restartMax: 1, restartWindowMs: 1_000, restartBackoffMs: 1, restartBackoffMaxMs: 1 }, idleMs: 60_000, askTimeoutMs: 5_000,
    });
    t.teardown(() => r.stop());
    return r.register(new OwnershipBehavior());
  };
  // Each ask in its own committed transaction, as the partition worker does.
  const ask = async (host: ReturnType<typeof runtime>, mail: Parameters<typeof host.ask>[1]) => {
    let reply: unknown;
    await db.em().transactional(async (em) => {
      const uow = new UnitOfWork(em as never, 1, 'test');
      reply = await host.ask('T1', mail, uow.scope(makeEnvelope('ticket.cancel', { ticket_id: 'T1' }, { source: 'test' }), 0));
      await uow.finish();
    });
    return reply;
  };

  const first = runtime();
  t.same(await ask(first, { kind: 'claim', ticketId: 'T1', taskId: 'A', globs: ['src/auth/**'] }), { granted: true });
  t.same(await ask(first, { kind: 'claim', ticketId: 'T1', taskId: 'B', globs: ['src/auth/login.ts'] }), { granted: false, blockedBy: ['A'] });
  t.same(await ask(first, { kind: 'claim', ticketId: 'T1', taskId: 'C', globs: ['src/**/*.ts'] }), { granted: false, blockedBy: ['A', 'B'] });
  t.same(await ask(first, { kind: 'claim', ticketId: 'T1', taskId: 'D', globs: ['docs/**'] }), { granted: true }, 'disjoint claims are granted at once');
  const rows = await db.em().getConnection().execute(`select task_id, status, seq from omoi_file_claim order by seq`);
  t.same(rows, [
    { task_id: 'A', status: 'held', seq: 0 }, { task_id: 'B', status: 'waiting', seq: 1 },
    { task_id: 'C', status: 'waiting', seq: 2 }, { task_id: 'D', status: 'held', seq: 3 },
  ], 'every claim is in PostgreSQL');

  // A crash: a fresh actor system hydrates the book from the rows.
  const second = runtime();
  t.same(await ask(second, { kind: 'release', ticketId: 'T1', taskId: 'A' }), ['B'], 'B (first in line) is granted, C still waits behind B');
  t.same(await ask(second, { kind: 'release', ticketId: 'T1', taskId: 'B' }), ['C']);
  const after = await db.em().getConnection().execute(`select task_id, status from omoi_file_claim order by seq`);
  t.same(after, [{ task_id: 'C', status: 'held' }, { task_id: 'D', status: 'held' }], 'released claims are deleted, granted ones held');
});
