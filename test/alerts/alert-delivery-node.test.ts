import fs from 'node:fs';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import t from 'tap';
import { encode, makeEnvelope, Subjects, validatePayload } from '../../src/protocol/index.ts';
import { runOmoi } from '../cli/run-omoi.ts';
import { tempDir, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { mailHeader, notification, smtpSink, webhookReceiver } from './receivers.ts';

/**
 * The acceptance case of alert routing, on a real node: an unresolved merge conflict's alert
 * (`alert.raised`, published here as the alerts actor would, twice: a redelivery) reaches a
 * webhook receiver that checks its signature and a real SMTP sink, each exactly once, and is
 * visible in the API, `/metrics` and `omoi alert-deliveries`.
 */
const SECRET_ENV = 'OMOI_TEST_NODE_HOOK_SECRET';

t.test('an unresolved merge conflict\'s alert is routed to a webhook and an SMTP sink once', async (t) => {
  process.env[SECRET_ENV] = 'node-hook-key';
  t.teardown(() => { delete process.env[SECRET_ENV]; });
  const hook = await webhookReceiver(t, { secret: 'node-hook-key' });
  const sink = await smtpSink(t);
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, {
    alerts: {
      routes: {
        'ops-webhook': { type: 'webhook', url: hook.url, secret: { env: SECRET_ENV } },
        'ops-mail': { type: 'email', to: ['oncall@example.com'], from: 'omoi@example.com', smtp: { host: sink.host, port: sink.port } },
      },
      rules: [{ match: { kind: 'merge_unresolved' }, routes: ['ops-webhook', 'ops-mail'] }],
    },
  });
  const js = jetstream(await withClient(t, cluster));
  const payload = validatePayload('alert.raised', notification({ alert_id: 'A-conflict', routes: ['ops-webhook', 'ops-mail'] }));
  for (let copy = 0; copy < 2; copy++) {
    const env = makeEnvelope('alert.raised', payload, { source: 'alerts' });
    await js.publish(Subjects.event('alert.raised'), encode(env), { msgID: env.id });
  }

  const api = async (p: string) => {
    const res = await fetch(node.httpUrl + p, { headers: { authorization: `Bearer ${node.apiToken}` } });
    return { status: res.status, json: await res.json() as any };
  };
  const deliveries = await waitFor('both deliveries delivered', async () => {
    const { json } = await api('/api/alerts/A-conflict/deliveries');
    return json.deliveries.length === 2 && json.deliveries.every((d: any) => d.status === 'delivered') && json.deliveries;
  }, { timeoutMs: 30_000 });
  t.same(deliveries.map((d: any) => [d.route, d.route_type, d.attempts]).sort(), [['ops-mail', 'email', 1], ['ops-webhook', 'webhook', 1]]);
  t.equal(deliveries[0].title, 'T1: merge of join-D left 2 conflicted files unresolved');
  t.notOk(JSON.stringify(deliveries).includes(hook.url), 'no route URL in the API');

  // The second copy was handled (the consumer acked both) without delivering again.
  const jsm = await jetstreamManager(node.nc);
  await waitFor('both copies acknowledged', async () => {
    const info = await jsm.consumers.info('OMOI_EVT', 'alert-delivery');
    return info.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq === info.delivered.stream_seq;
  });
  t.equal(hook.received.length, 1, 'the webhook got the alert once');
  t.equal(hook.received[0]!.signatureValid, true, 'with a signature the receiver verified');
  t.match(hook.received[0]!.json, { alert_id: 'A-conflict', kind: 'merge_unresolved', severity: 'critical', status: 'raised' });
  t.equal(sink.messages.length, 1, 'the SMTP sink got it once');
  t.same(sink.messages[0]!.to, ['oncall@example.com']);
  t.equal(mailHeader(sink.messages[0]!.raw, 'Subject'), '[omoi] critical T1: merge of join-D left 2 conflicted files unresolved');
  t.ok(sink.messages[0]!.raw.includes(`Dashboard: ${node.httpUrl}`), 'the mail links to the node\'s dashboard');

  const delivered = await api('/api/alert-deliveries?status=delivered');
  t.equal(delivered.json.deliveries.filter((d: any) => d.alert_id === 'A-conflict').length, 2);
  t.same((await api('/api/alert-deliveries?status=failed')).json.deliveries, []);
  const bad = await api('/api/alert-deliveries?status=lost');
  t.equal(bad.status, 400);
  t.equal(bad.json.error.code, 'invalid_query');

  const metrics = await (await fetch(`${node.httpUrl}/metrics`)).text();
  t.match(metrics, /^omoi_alert_deliveries_total\{route_type="webhook",outcome="delivered"\} 1$/m);
  t.match(metrics, /^omoi_alert_deliveries_total\{route_type="email",outcome="delivered"\} 1$/m);

  const listed = await runOmoi(['alert-deliveries', '--alert', 'A-conflict', '--url', node.httpUrl], { OMOI_API_TOKEN: node.apiToken });
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, /^ID +ALERT +N +ROUTE +TYPE +STATUS/m);
  t.equal(listed.stdout.split('\n').filter((l) => /A-conflict +1 +ops-(webhook|mail) +(webhook|email) +delivered +1/.test(l)).length, 2, listed.stdout);
});

t.test('omoi alert-deliveries test ROUTE sends a test notification and prints the answer; a missing secret is named', async (t) => {
  const hook = await webhookReceiver(t, { secret: 'cli-key' });
  const dir = await tempDir(t, 'alert-routes');
  const file = path.join(dir, 'omoi.yaml');
  fs.writeFileSync(file, [
    'alerts:', '  routes:', '    ops-webhook:', '      type: webhook', `      url: ${hook.url}`, '      secret:', '        env: OMOI_TEST_CLI_HOOK_KEY', '',
  ].join('\n'));
  const ok = await runOmoi(['alert-deliveries', 'test', 'ops-webhook'], { OMOI_CONFIG: file, OMOI_TEST_CLI_HOOK_KEY: 'cli-key' });
  t.equal(ok.code, 0, ok.stderr);
  t.equal(ok.stdout, 'route ops-webhook answered: HTTP 200 ok\n');
  t.equal(hook.received.length, 1);
  t.equal(hook.received[0]!.signatureValid, true);
  t.equal(hook.received[0]!.json.status, 'test');

  const missing = await runOmoi(['alert-deliveries', 'test', 'ops-webhook'], { OMOI_CONFIG: file });
  t.equal(missing.code, 1);
  t.equal(missing.stderr, 'omoi: route ops-webhook: secret is read from the environment variable OMOI_TEST_CLI_HOOK_KEY, which is not set [secret_missing]\n');
  const unknown = await runOmoi(['alert-deliveries', 'test', 'pager'], { OMOI_CONFIG: file });
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /no route named "pager" in alerts\.routes \(configured: ops-webhook\) \[route_unknown\]/);
  t.equal(hook.received.length, 1, 'nothing was sent unsigned');
});
