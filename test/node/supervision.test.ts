import t from 'tap';
import { pino } from 'pino';
import { ActorRuntime } from '../../src/actors/actor-runtime.ts';
import type { EntityBehavior, SupervisionReport } from '../../src/actors/entity-host.ts';
import { RestartBudget } from '../../src/actors/supervision.ts';
import { UnitOfWork } from '../../src/messaging/unit-of-work.ts';
import { Metrics } from '../../src/metrics.ts';
import { openDatabase, TicketEntity, type EntityManager } from '../../src/persistence/index.ts';
import { makeEnvelope } from '../../src/protocol/index.ts';
import { withPostgres } from '../harness/index.ts';

t.test('restart budget: exponential backoff inside the window, escalation past the maximum', async (t) => {
  let now = 0;
  const budget = new RestartBudget({ restartMax: 3, restartWindowMs: 1_000, restartBackoffMs: 100, restartBackoffMaxMs: 250 }, () => now);
  t.same(budget.crashed('a'), { action: 'restart', restarts: 1, backoffMs: 100 });
  t.same(budget.crashed('a'), { action: 'restart', restarts: 2, backoffMs: 200 });
  t.same(budget.crashed('a'), { action: 'restart', restarts: 3, backoffMs: 250 }, 'capped at the maximum backoff');
  t.same(budget.crashed('a'), { action: 'escalate', restarts: 3 }, 'the 4th crash in the window escalates');
  now = 5_000;
  t.same(budget.crashed('b'), { action: 'restart', restarts: 1, backoffMs: 100 }, 'other entities are independent');
  budget.crashed('b');
  now = 7_000;
  t.same(budget.crashed('b'), { action: 'restart', restarts: 1, backoffMs: 100 }, 'crashes outside the window are forgotten');
});

/** A behaviour that crashes on demand: the narrow seam to make a real nact actor fail. */
class Crasher implements EntityBehavior<{ handled: number }, { crash: boolean }> {
  readonly type = 'TicketActor' as const;
  hydrations = 0;
  async hydrate() {
    this.hydrations++;
    return { handled: 0 };
  }
  async handle(state: { handled: number }, mail: { crash: boolean }) {
    if (mail.crash) throw new Error('boom');
    return { state: { handled: state.handled + 1 }, reply: state.handled + 1 };
  }
  async markFailed(em: EntityManager, id: string, reason: string) {
    const now = new Date();
    await em.insert(TicketEntity, {
      id, title: 'x', repository: 'x', base_branch: 'main', base_commit: null, status: 'failed', ownership: 'strict',
      resolver_command: null, check_command: null, head: null, reason: null, failed_reason: reason, created_at: now, updated_at: now, version: 1,
    });
  }
}

t.test('a crashing actor restarts with backoff, stops after N restarts, and escalates', async (t) => {
  const pg = await withPostgres(t);
  const db = await openDatabase(pg.url, pino({ level: 'silent' }));
  t.teardown(() => db.close());
  const reports: SupervisionReport[] = [];
  const metrics = new Metrics();
  const runtime = new ActorRuntime({
    db, log: pino({ level: 'silent' }), metrics, report: (r) => reports.push(r),
    supervision: { restartMax: 2, restartWindowMs: 60_000, restartBackoffMs: 20, restartBackoffMaxMs: 1_000 },
    idleMs: 60_000, askTimeoutMs: 5_000,
  });
  t.teardown(() => runtime.stop());
  const behavior = new Crasher();
  const host = runtime.register(behavior);
  const ask = (crash: boolean) => {
    const uow = new UnitOfWork(db.em(), 1, 'test');
    return host.ask('E1', { crash }, uow.scope(makeEnvelope('ticket.cancel', { ticket_id: 'E1' }, { source: 'test' }), 0));
  };

  t.equal(await ask(false), 1);
  t.equal(await ask(false), 2, 'state is kept between messages');
  await t.rejects(ask(true), /boom/, 'the asker gets the error');
  t.equal(await ask(false), 1, 'after the restart the state was re-hydrated');
  await t.rejects(ask(true), /boom/);
  await t.rejects(ask(true), /boom/, 'the third crash exceeds restartMax=2');
  await new Promise((r) => setTimeout(r, 200));
  t.same(reports.map((r) => r.action), ['crashed', 'restarted', 'crashed', 'restarted', 'crashed', 'escalated']);
  t.same(reports.filter((r) => r.action === 'restarted').map((r) => r.backoff_ms), [20, 40], 'backoff doubles');
  const [row] = await db.em().getConnection().execute(`select status, failed_reason from omoi_ticket where id = 'E1'`);
  t.equal(row.status, 'failed', 'the escalated entity is marked failed');
  t.match(row.failed_reason, /escalated after 2 restarts: boom/);
  t.notOk(host.isLive('E1'), 'the actor is stopped');
  const text = await metrics.registry.metrics();
  t.match(text, /omoi_actor_restarts_total\{actor="TicketActor",action="escalated"\} 1/, 'escalation is a metric');
  t.equal(await ask(false), 1, 'a later message gets a fresh actor (the entity row says failed)');
});

t.test('an idle actor passivates and re-hydrates from PostgreSQL on its next message', async (t) => {
  const pg = await withPostgres(t);
  const db = await openDatabase(pg.url, pino({ level: 'silent' }));
  t.teardown(() => db.close());
  const metrics = new Metrics();
  const runtime = new ActorRuntime({
    db, log: pino({ level: 'silent' }), metrics, report: () => undefined,
    supervision: { restartMax: 2, restartWindowMs: 60_000, restartBackoffMs: 20, restartBackoffMaxMs: 1_000 },
    idleMs: 100, askTimeoutMs: 5_000,
  });
  t.teardown(() => runtime.stop());
  const behavior = new Crasher();
  const host = runtime.register(behavior);
  const ask = () => {
    const uow = new UnitOfWork(db.em(), 1, 'test');
    return host.ask('E2', { crash: false }, uow.scope(makeEnvelope('ticket.cancel', { ticket_id: 'E2' }, { source: 'test' }), 0));
  };
  await ask();
  t.ok(host.isLive('E2'), 'live after a message');
  t.match(await metrics.registry.metrics(), /omoi_live_actors\{actor="TicketActor"\} 1/);
  await new Promise((r) => setTimeout(r, 400));
  t.notOk(host.isLive('E2'), 'passivated after idleMs without a message');
  t.match(await metrics.registry.metrics(), /omoi_live_actors\{actor="TicketActor"\} 0/);
  await ask();
  t.equal(behavior.hydrations, 2, 're-hydrated on the next message');
});
