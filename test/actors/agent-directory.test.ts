import t from 'tap';
import { pino } from 'pino';
import { ActorRuntime } from '../../src/actors/actor-runtime.ts';
import { AgentBehavior } from '../../src/actors/agent-actor.ts';
import { AgentDirectory } from '../../src/actors/agent-directory.ts';
import { UnitOfWork } from '../../src/messaging/unit-of-work.ts';
import { Metrics } from '../../src/metrics.ts';
import { openDatabase, type Database } from '../../src/persistence/index.ts';
import { makeEnvelope, type Envelope } from '../../src/protocol/index.ts';
import { withPostgres } from '../harness/index.ts';

const cause = () => makeEnvelope('ticket.wake', { ticket_id: 'T1' }, { source: 'test' });

/** Runs `work` in one committed transaction, as a partition worker's round does. */
async function inTransaction<T>(db: Database, work: (uow: UnitOfWork) => Promise<T>): Promise<T> {
  let out!: T;
  await db.em().transactional(async (em) => {
    const uow = new UnitOfWork(em as never, 1, 'test');
    out = await work(uow);
    await uow.finish();
  });
  return out;
}

const insertAgent = (db: Database, id: string) => db.em().getConnection().execute(
  `insert into omoi_agent (id, name, phase, capabilities, agent_version, kind, status, capacity, running, registered_at, last_heartbeat_at, restarts, updated_at, version)
   values (?, ?, 'execute', '[]', '1.0.0', 'remote', 'healthy', 1, '[]', now(), now(), 0, now(), 1)`, [id, id]);

t.test('the agent snapshot: kept for its lifetime, dropped by an agent write, never kept from a read a write overtook', async (t) => {
  const pg = await withPostgres(t);
  const db = await openDatabase(pg.url, pino({ level: 'silent' }));
  t.teardown(() => db.close());
  const directory = new AgentDirectory(60_000); // long-lived: only invalidation refreshes it
  const ids = () => inTransaction(db, async (uow) => (await directory.list(uow.scope(cause(), 0))).map((a) => a.id));

  await insertAgent(db, 'a1');
  t.same(await ids(), ['a1']);
  await insertAgent(db, 'a2');
  t.same(await ids(), ['a1'], 'within its lifetime the snapshot answers without reading the table');
  directory.invalidate();
  t.same(await ids(), ['a1', 'a2'], 'after an invalidation the table is read again');

  // A write that lands while a read is in flight: that read's rows must not be kept.
  await insertAgent(db, 'a3');
  directory.invalidate();
  const read = await inTransaction(db, async (uow) => {
    const reading = directory.list(uow.scope(cause(), 0));
    directory.invalidate(); // an agent written while the read is in flight
    return (await reading).map((a) => a.id);
  });
  t.same(read, ['a1', 'a2', 'a3']);
  await insertAgent(db, 'a4');
  t.same(await ids(), ['a1', 'a2', 'a3', 'a4'], 'the overtaken read was not cached');

  // A rolled-back transaction: what it read (its own uncommitted agent included) is dropped.
  directory.invalidate();
  await db.em().transactional(async (em) => {
    const uow = new UnitOfWork(em as never, 1, 'test');
    await em.getConnection().execute(`insert into omoi_agent (id, name, phase, capabilities, agent_version, kind, status, capacity, running, registered_at, restarts, updated_at, version) values ('ghost', 'ghost', 'execute', '[]', '1', 'remote', 'healthy', 1, '[]', now(), 0, now(), 1)`, [], 'run', em.getTransactionContext());
    t.ok((await directory.list(uow.scope(cause(), 0))).some((a) => a.id === 'ghost'), 'the transaction sees its own agent');
    uow.rollbackState();
    throw new Error('roll back');
  }).catch(() => undefined);
  t.notOk((await ids()).includes('ghost'), 'the rolled-back agent is not served from the snapshot');
});

t.test('an AgentActor writing an agent drops the snapshot', async (t) => {
  const pg = await withPostgres(t);
  const db = await openDatabase(pg.url, pino({ level: 'silent' }));
  t.teardown(() => db.close());
  const directory = new AgentDirectory(60_000);
  const runtime = new ActorRuntime({
    db, log: pino({ level: 'silent' }), metrics: new Metrics(), report: () => undefined,
    supervision: { restartMax: 1, restartWindowMs: 1_000, restartBackoffMs: 1, restartBackoffMaxMs: 1 }, idleMs: 60_000, askTimeoutMs: 5_000,
  });
  t.teardown(() => runtime.stop());
  const policy = { registrationTimeoutMs: 60_000, degradedAfterMs: 30_000, failedAfterMs: 90_000, restartCooldownMs: 10_000, restartMax: 3 };
  const agents = runtime.register(new AgentBehavior({ policy, runLocal: () => undefined, agentChanged: () => directory.invalidate(), budgetDefaults: { warnShare: 0.8, onExceeded: 'finish' } }));
  const ids = () => inTransaction(db, async (uow) => (await directory.list(uow.scope(cause(), 0))).map((a) => a.id));

  t.same(await ids(), [], 'no agent yet (and the empty answer is cached)');
  const register: Envelope = makeEnvelope('agent.register', { agent_id: 'gpu-1', name: 'gpu box', phase: 'execute', capabilities: ['gpu'], version: '1.0.0', kind: 'remote', capacity: 2 }, { source: 'test' });
  await inTransaction(db, (uow) => agents.ask('gpu-1', { env: register } as never, uow.scope(register, 0)));
  t.same(await ids(), ['gpu-1'], 'the registration is seen at once, not after the snapshot expires');
});
