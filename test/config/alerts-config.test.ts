import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config/index.ts';

function configFile(t: Test, yaml: string): NodeJS.ProcessEnv {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omoi-alerts-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'omoi.yaml'), yaml);
  return { OMOI_CONFIG: path.join(dir, 'omoi.yaml') };
}

t.test('no alerts section: alerts go to the dashboard only', async (t) => {
  t.same(loadConfig({}).alerts, {});
});

t.test('the alerts section: routes of each type and rules naming them', async (t) => {
  const c = loadConfig(configFile(t, `
alerts:
  dedupe_window_ms: 600000
  routes:
    ops: { type: webhook, url: "https://hooks.example/omoi", secret: { env: OPS_HOOK_SECRET } }
    chat: { type: slack, url: "https://hooks.slack.example/T/B/x" }
    mail: { type: email, to: [oncall@example.com], smtp: { host: 127.0.0.1, port: 2525 } }
  rules:
    - name: merges
      match: { kind: merge_unresolved, fields: { ticket_id: "T-*" } }
      severity: critical
      dedupe_window_ms: 60000
      routes: [ops, mail]
    - match: { kind: [agent_failed, node_lost] }
      routes: [chat]
`));
  t.equal(c.alerts.dedupe_window_ms, 600_000);
  t.same(Object.keys(c.alerts.routes ?? {}), ['ops', 'chat', 'mail']);
  t.same(c.alerts.routes?.ops, { type: 'webhook', url: 'https://hooks.example/omoi', secret: { env: 'OPS_HOOK_SECRET' } });
  t.same(c.alerts.rules?.map((r) => r.routes), [['ops', 'mail'], ['chat']]);
  t.same(c.alerts.rules?.[1]?.match?.kind, ['agent_failed', 'node_lost']);
});

t.test('a wrong alerts section stops the start with the path of the problem', async (t) => {
  for (const [yaml, problem] of [
    ['alerts:\n  rules:\n    - match: { kind: merge_unresolve }\n', /^OMOI_CONFIG: alerts\.rules\.0\.match\.kind: "merge_unresolve" is not an alert kind; the kinds are dead_letter, .*merge_unresolved/],
    ['alerts:\n  rules:\n    - match: { kind: [node_lost, nodes_lost] }\n', /^OMOI_CONFIG: alerts\.rules\.0\.match\.kind.*: "nodes_lost" is not an alert kind; the kinds are dead_letter, /],
    ['alerts:\n  rules:\n    - severity: urgent\n', /^OMOI_CONFIG: alerts\.rules\.0\.severity: "urgent" is not a severity; use info, warning, critical/],
    ['alerts:\n  rules:\n    - routes: [nowhere]\n', /^OMOI_CONFIG: alerts\.rules\.0\.routes: no route named "nowhere" in alerts\.routes/],
    ['alerts:\n  routes:\n    ops: { type: pager, url: "https://x" }\n', /^OMOI_CONFIG: alerts\.routes\.ops: must be a webhook/],
    ['alerts:\n  routes:\n    ops: { type: webhook, url: "ftp://x" }\n', /^OMOI_CONFIG: alerts\.routes\.ops/],
    ['alerts:\n  rules:\n    - match: { kind: dead_letter }\n      dedupe_window_ms: -1\n', /^OMOI_CONFIG: alerts\.rules\.0\.dedupe_window_ms/],
    ['alerts:\n  escalate: true\n', /^OMOI_CONFIG: alerts/],
  ] as const) {
    t.throws(() => loadConfig(configFile(t, yaml)), { name: 'ConfigError', message: problem }, yaml);
  }
});
