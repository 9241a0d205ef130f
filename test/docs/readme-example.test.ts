import fs from 'node:fs';
import t from 'tap';
import { validatePayload } from '../../src/protocol/index.ts';
import { validateTasks } from '../../src/dag/index.ts';
import { parse as parseYaml } from 'yaml';
import { parseAlertsConfig } from '../../src/alerts/alerts-config.ts';
import { decide } from '../../src/alerts/rules.ts';

t.test("the README's example ticket is valid input", async (t) => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const block = /```json\n([\s\S]*?)```/.exec(readme);
  t.ok(block, 'the README has a JSON example');
  const ticket = JSON.parse(block![1]);
  const valid = validatePayload<any>('ticket.create', ticket);
  t.doesNotThrow(() => validateTasks(valid.tasks), 'its DAG is valid');
  t.same(valid.tasks.find((x: any) => x.id === 'D').depends_on, ['B', 'C'], 'D joins B and C');
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
