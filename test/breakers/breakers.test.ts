import t from 'tap';
import { Breakers, CircuitOpenError, type BreakerChange } from '../../src/breakers/breakers.ts';
import { isTerminal } from '../../src/errors.ts';

const failing = (message: string) => async (): Promise<never> => {
  throw new Error(message);
};

t.test('a breaker opens after its threshold of consecutive failures, refuses calls without making them, half-opens and closes', async (t) => {
  const changes: BreakerChange[] = [];
  const breakers = new Breakers({ threshold: 3, halfOpenAfterMs: 50, onChange: (c) => changes.push(c) });
  for (let i = 1; i <= 3; i++) await t.rejects(breakers.run('git_remote', 'file:///gone', failing(`clone failed ${i}`)), /clone failed/);
  t.same(changes.map((c) => c.state), ['open'], 'opened at the third failure');
  t.equal(changes[0]!.reason, 'clone failed 3', 'the change says why');

  let called = false;
  const refused = await breakers.run('git_remote', 'file:///gone', async () => { called = true; }).catch((e: unknown) => e);
  t.ok(refused instanceof CircuitOpenError, 'an open breaker refuses');
  t.equal((refused as CircuitOpenError).code, 'circuit_open');
  t.notOk(isTerminal(refused), 'retryable: the work waits, it is not failed');
  t.match((refused as Error).message, /git_remote file:\/\/\/gone is failing \(clone failed 3\)/);
  t.notOk(called, 'the call was not made');
  t.same(breakers.states().map((s) => [s.breaker, s.key, s.state]), [['git_remote', 'file:///gone', 'open']]);

  await new Promise((r) => setTimeout(r, 80));
  t.equal(await breakers.run('git_remote', 'file:///gone', async () => 'cloned'), 'cloned', 'the trial call goes through');
  t.same(changes.map((c) => c.state), ['open', 'half_open', 'closed']);
  t.equal(breakers.states()[0]!.state, 'closed');
});

t.test('breakers are per name and key; failures the caller does not count pass through', async (t) => {
  const breakers = new Breakers({ threshold: 1, halfOpenAfterMs: 60_000 });
  await t.rejects(breakers.run('webhook', 'ops', failing('HTTP 500')));
  await t.rejects(breakers.run('webhook', 'ops', async () => 1), { code: 'circuit_open' });
  t.equal(await breakers.run('webhook', 'other', async () => 2), 2, 'another key has its own breaker');
  t.equal(await breakers.run('smtp', 'ops', async () => 3), 3, 'another name has its own breaker');
  const conflict = () => async (): Promise<never> => { throw Object.assign(new Error('merge conflict'), { ours: true }); };
  for (let i = 0; i < 3; i++) await t.rejects(breakers.run('resolver', 'r', conflict(), (e) => !(e as { ours?: boolean }).ours), /merge conflict/);
  t.equal(await breakers.run('resolver', 'r', async () => 'ok'), 'ok', 'uncounted failures never open it');
});

t.test('an observer that throws does not break the call', async (t) => {
  const breakers = new Breakers({ threshold: 1, onChange: () => { throw new Error('observer down'); } });
  await t.rejects(breakers.run('agent_command', 'claude', failing('exit 127')), /exit 127/);
  await t.rejects(breakers.run('agent_command', 'claude', async () => 1), { code: 'circuit_open' });
});
