import t from 'tap';
import { runOmoi, runOmoiHere } from './run-omoi.ts';

const COMMANDS = ['start', 'pub', 'sub', 'dlq', 'dlq list', 'dlq show', 'dlq retry', 'dlq discard', 'status', 'docs', 'resolve', 'token', 'token create', 'token list', 'token revoke', 'audit', 'nats-user', 'nats-user add-agent', 'nats-user remove-agent', 'nats-user list', 'alert-deliveries', 'alert-deliveries list', 'alert-deliveries test', 'alerts', 'alerts list', 'alerts show', 'alerts ack', 'alerts resolve', 'task', 'task retry', 'approve', 'reject', 'deliver', 'agents', 'agents list', 'agents drain', 'agents undrain', 'agents remove', 'webhooks', 'webhooks add', 'webhooks list', 'webhooks remove', 'webhooks deliveries', 'spec', 'spec create', 'spec show', 'spec replan', 'spec approve', 'spec reject'];

t.test('omoi --help lists every command', async (t) => {
  const r = await runOmoi(['--help']);
  t.equal(r.code, 0);
  for (const c of ['start', 'pub', 'sub', 'dlq', 'status', 'docs', 'resolve', 'token', 'audit', 'nats-user', 'alert-deliveries', 'alerts', 'task', 'approve', 'reject', 'deliver', 'agents', 'webhooks', 'spec']) t.match(r.stdout, new RegExp(`^  ${c}\\b`, 'm'), `lists ${c}`);
  t.match(r.stdout, /Examples:/);
});

// Each sub-command's help in-process: fifty spawns of the executable cost half a minute of the suite.
// The executable itself is run by the tests above and below.
for (const command of COMMANDS) {
  t.test(`omoi ${command} --help describes it with examples`, async (t) => {
    const r = await runOmoiHere([...command.split(' '), '--help']);
    t.equal(r.code, 0, 'exit 0');
    t.match(r.stdout, new RegExp(`^Usage: omoi ${command} `, 'm'), 'usage line');
    t.match(r.stdout, /Examples:\n {2}\$ omoi /, 'has examples');
    t.equal(r.stderr, '', 'nothing on stderr');
  });
}

t.test('omoi start --help lists the demos; omoi spec create --help the delivery options', async (t) => {
  const start = await runOmoi(['start', '--help']);
  t.match(start.stdout, /^ {2}--spec-demo +run the spec demo: a goal on the sample repository planned/m, 'lists --spec-demo');
  t.match(start.stdout, /^ {2}--demo +also run the demo/m);
  const create = await runOmoi(['spec', 'create', '--help']);
  for (const option of ['--push-to <remote>', '--branch <name>', '--pr-command <command>']) t.match(create.stdout, new RegExp(`^ {2}${option} `, 'm'), `lists ${option}`);
});

t.test('a usage error names the problem and exits 2', async (t) => {
  const r = await runOmoi(['sub', 'omoi.evt.>', '--count', 'many']);
  t.equal(r.code, 2);
  t.match(r.stderr, /--count must be a positive integer/);
  const unknown = await runOmoi(['start', '--bogus']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown option '--bogus'/);
});

t.test('omoi resolve checks its input before sending anything', async (t) => {
  const r = await runOmoi(['resolve', 'T1', 'join-D', 'not-a-sha']);
  t.equal(r.code, 1);
  t.match(r.stderr, /\/payload\/commit/, 'names the field');
  const both = await runOmoi(['resolve', 'T1', 'join-D', 'a'.repeat(40), '--rerun-resolver']);
  t.equal(both.code, 2, 'a commit and --rerun-resolver: a usage error');
  t.match(both.stderr, /give exactly one of <commit> or --rerun-resolver/);
  const neither = await runOmoi(['resolve', 'T1', 'join-D']);
  t.equal(neither.code, 2);
  t.match(neither.stderr, /give exactly one of <commit> or --rerun-resolver/);
});
