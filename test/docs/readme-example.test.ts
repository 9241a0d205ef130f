import fs from 'node:fs';
import t from 'tap';
import { validatePayload } from '../../src/protocol/index.ts';
import { validateTasks } from '../../src/dag/index.ts';
import { parse as parseYaml } from 'yaml';
import { parseAlertsConfig } from '../../src/alerts/alerts-config.ts';
import { decide } from '../../src/alerts/rules.ts';
import { parseWebhooksConfig } from '../../src/webhooks/github/github-config.ts';
import { planDelivery } from '../../src/webhooks/github/github-rules.ts';

t.test("the README's example ticket is valid input", async (t) => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const block = /```json\n([\s\S]*?)```/.exec(readme);
  t.ok(block, 'the README has a JSON example');
  const ticket = JSON.parse(block![1]);
  const valid = validatePayload<any>('ticket.create', ticket);
  t.doesNotThrow(() => validateTasks(valid.tasks), 'its DAG is valid');
  t.same(valid.tasks.find((x: any) => x.id === 'D').depends_on, ['B', 'C'], 'D joins B and C');
});

t.test("the README's approvals and delivery example is valid input", async (t) => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const block = /```json\n(\{[^`]*"approvals"[\s\S]*?)```/.exec(readme);
  t.ok(block, 'the README has an approvals example');
  const valid = validatePayload<any>('ticket.create', JSON.parse(block![1]));
  t.same(valid.approvals, ['before_execute', 'before_delivery']);
  t.match(valid.delivery, { branch: 'feature/x', pull_request_command: /\{branch\}/ });
  t.throws(() => validatePayload('ticket.create', { ...JSON.parse(block![1]), delivery: { branch: '../main' } }), 'a branch name with .. is refused');
  t.throws(() => validatePayload('ticket.create', { ...JSON.parse(block![1]), approvals: ['after_lunch'] }), 'an unknown gate is refused');
  t.throws(() => validatePayload('ticket.create', { ...JSON.parse(block![1]), delivery: { remote: '--upload-pack=x@h:r' } }), 'a remote starting with - is refused');
});

t.test("the README's alerts example is a valid `alerts:` section, and its rules decide as it says", async (t) => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const block = /```yaml\n( *)(alerts:[\s\S]*?)```/.exec(readme);
  t.ok(block, 'the README has an alerts example');
  const indent = block![1].length;
  const text = (block![1] + block![2]).split('\n').map((l) => l.slice(indent)).join('\n');
  const config = parseAlertsConfig((parseYaml(text) as { alerts: unknown }).alerts);
  t.same(decide(config, 'node_lost', { node_id: 'n1' }), { severity: 'critical', dedupeWindowMs: 3_600_000, routes: ['oncall-mail', 'team-slack'], rule: 'merges-page-oncall' });
  t.same(decide(config, 'ticket_failed', { ticket_id: 'prod-17' }), { severity: 'critical', dedupeWindowMs: 600_000, routes: ['ops-webhook'], rule: 'prod-repos' });
  t.same(decide(config, 'ticket_failed', { ticket_id: 'dev-3' }).rule, null, 'a field glob that does not match: no rule');
  t.same(decide(config, 'ticket_failed', {}).rule, null, 'a field the alert lacks: no rule');
  t.same(decide(config, 'circuit_open', {}), { severity: 'info', dedupeWindowMs: 3_600_000, routes: [], rule: 'quiet-breakers' });
  t.same(decide(config, 'agent_degraded', {}), { severity: 'warning', dedupeWindowMs: 3_600_000, routes: [], rule: null }, 'no rule: default severity, dashboard only');
});

t.test("the README's webhooks example is a valid `webhooks:` section, and its rules act as it says", async (t) => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const block = /```yaml\n(webhooks:[\s\S]*?)```/.exec(readme);
  t.ok(block, 'the README has a webhooks example');
  const config = parseWebhooksConfig((parseYaml(block![1]) as { webhooks: unknown }).webhooks);
  const github = config.github!;
  const repository = { full_name: 'acme/app', clone_url: 'https://github.com/acme/app.git', default_branch: 'main' };
  const plan = planDelivery(github, 'issues', 'delivery-1', {
    action: 'labeled', label: { name: 'omoi' }, repository,
    issue: { number: 7, title: 'Crash on empty input', body: 'Steps: run it with {issue_title}.' },
  });
  if (plan.kind !== 'create') throw new Error(`expected a ticket, got ${plan.kind}`);
  t.match(plan.ticketId, /^gh-7-[0-9a-f]{12}$/);
  t.match(planDelivery(github, 'issues', 'delivery-1', { action: 'labeled', label: { name: 'omoi' }, repository, issue: { number: 7, title: 'x' } }), { kind: 'create', ticketId: plan.ticketId }, 'the same delivery makes the same ticket id');
  t.notMatch(planDelivery(github, 'issues', 'delivery-9', { action: 'labeled', label: { name: 'omoi' }, repository, issue: { number: 7, title: 'x' } }), { ticketId: plan.ticketId }, 'another delivery, another ticket');
  const valid = validatePayload<any>('ticket.create', plan.payload);
  t.equal(valid.title, 'acme/app#7: Crash on empty input');
  t.equal(valid.repository, '/srv/repos/app');
  t.equal(valid.tasks[0].kind, 'agent');
  t.equal(valid.tasks[0].run, 'Fix GitHub issue 7: Crash on empty input\n\nSteps: run it with {issue_title}.', 'placeholders filled once (issue text is not expanded)');
  t.same(valid.tasks[0].capabilities, ['code']);
  t.same(planDelivery(github, 'issues', 'delivery-2', { action: 'labeled', label: { name: 'bug' }, repository, issue: { number: 7, title: 'x' } }).kind, 'ignored', 'another label');
  t.same(planDelivery(github, 'issues', 'delivery-3', { action: 'opened', repository, issue: { number: 7, title: 'x' } }).kind, 'ignored', 'another action');
  const comment = (body: string, association: string) => planDelivery(github, 'issue_comment', 'delivery-4', { action: 'created', repository, issue: { number: 7 }, comment: { body, author_association: association } });
  t.match(comment('/omoi cancel please', 'MEMBER'), { kind: 'cancel', repository: 'acme/app', issue: 7 });
  t.match(comment('/omoi cancelled it?', 'MEMBER'), { kind: 'ignored' }, 'the command must end at a space');
  t.match(comment('/omoi cancel', 'NONE'), { kind: 'ignored' }, 'a commenter without an allowed association');
  t.throws(() => parseWebhooksConfig({ github: { secret: 's', rules: [{ event: 'issues', create_ticket: {} }] } }), /webhooks\.github\.rules\.0: must be/, 'a bad rule is named');
  t.throws(() => parseWebhooksConfig({ gitlab: {} }), /webhooks/, 'an unknown key is refused');
});
