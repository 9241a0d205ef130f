// An alert's life on a real node (NATS, PostgreSQL): events on the stream → the trigger
// consumer → the AlertActor of the fingerprint. Raise, dedupe (repeats count, one notification
// per window), acknowledge (HTTP) and resolve (CLI), both audited; auto-resolve when the
// condition clears; a new alert after that; bad input answered with stable codes; /metrics.
import t from 'tap';
import { headers as natsHeaders } from '@nats-io/nats-core';
import type { OmoiNode } from '../../src/bootstrap.ts';
import { encode, makeEnvelope, Subjects } from '../../src/protocol/index.ts';
import { waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { runOmoi } from '../cli/run-omoi.ts';

const WINDOW_MS = 1_500;
const cluster = await withCluster(t);
const node = await withNode(t, cluster, {
  alerts: { rules: [{ name: 'git-breakers', match: { kind: 'circuit_open', fields: { breaker: 'git_*' } }, severity: 'critical', dedupe_window_ms: WINDOW_MS, routes: [] }] },
});
const client = await withClient(t, cluster);

/** Every alert event seen, in order. */
const seen: Array<{ type: string; payload: any }> = [];
const sub = client.subscribe('omoi.evt.alert.>', { callback: (_e, m) => void seen.push(JSON.parse(m.string())) });
t.teardown(() => sub.unsubscribe());
const notifications = (fingerprint: string) => seen.filter((e) => e.type === 'alert.raised' && e.payload.fingerprint === fingerprint);

let seq = 0;
/** Publishes a `breaker.state` event as a node would (the trigger consumer maps it); returns its id. */
async function breaker(state: 'open' | 'closed', id = `test-breaker-${++seq}`, natsId = id): Promise<string> {
  const env = makeEnvelope('breaker.state', { node_id: 'n-x', breaker: 'git_remote', key: 'https://git.example/r.git', state, ...(state === 'open' ? { reason: 'refused' } : {}) }, { source: 'test', id });
  const h = natsHeaders();
  h.set('Nats-Msg-Id', natsId);
  await node.js.publish(Subjects.event('breaker.state'), encode(env), { headers: h });
  return id;
}

const FP = 'circuit_open:n-x/git_remote/https://git.example/r.git';
const openAlert = async () => (await sql(`select * from omoi_alert where fingerprint = $1 and status <> 'resolved'`, [FP]))[0];
async function sql(query: string, params: unknown[] = []): Promise<any[]> {
  return node.db.em().getConnection().execute(query.replace(/\$\d/g, '?'), params);
}
const api = (n: OmoiNode, method: string, path: string, body?: unknown) => fetch(n.httpUrl + path, {
  method, headers: { authorization: `Bearer ${n.apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  body: body === undefined ? undefined : JSON.stringify(body),
}).then(async (r) => ({ status: r.status, json: await r.json() as any }));

t.test('raise, dedupe, acknowledge, auto-resolve, raise anew, resolve by a person', async (t) => {
  const first = await breaker('open');
  const alert = await waitFor('the alert opens', openAlert);
  t.match(alert, { kind: 'circuit_open', severity: 'critical', status: 'raised', count: 1, notification: 1, rule: 'git-breakers', dedupe_window_ms: WINDOW_MS });
  t.match(alert.id, /^al-[0-9a-f]{16}$/);
  t.same(alert.fields, { node_id: 'n-x', breaker: 'git_remote', key: 'https://git.example/r.git', reason: 'refused' });
  await waitFor('alert.raised', () => notifications(FP).length === 1);
  t.match(notifications(FP)[0].payload, { alert_id: alert.id, kind: 'circuit_open', severity: 'critical', count: 1, notification: 1, routes: [] });

  // Repeats within the window count and notify nobody; a redelivered event counts once.
  await breaker('open');
  await breaker('open', first, `${first}-redelivered`);
  await breaker('open');
  await waitFor('three raises counted', async () => (await openAlert())?.count === 3);
  await node.idle();
  await new Promise((r) => setTimeout(r, 300));
  t.equal((await openAlert()).count, 3, 'the redelivered event did not count again');
  t.equal(notifications(FP).length, 1, 'no second notification within the window');

  // After the window, a repeat notifies again.
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  await breaker('open');
  await waitFor('a second notification', () => notifications(FP).length === 2);
  t.match(notifications(FP)[1].payload, { alert_id: alert.id, count: 4, notification: 2 });

  // A person acknowledges it over HTTP: no more notifications, repeats still count.
  const ack = await api(node, 'POST', `/api/alerts/${alert.id}/acknowledge`, { comment: 'looking' });
  t.equal(ack.status, 202, JSON.stringify(ack.json));
  await waitFor('acknowledged', async () => (await openAlert())?.status === 'acknowledged');
  t.match(await openAlert(), { acknowledged_by: 'admin', acknowledged_comment: 'looking' });
  await waitFor('alert.acknowledged', () => seen.some((e) => e.type === 'alert.acknowledged' && e.payload.alert_id === alert.id && e.payload.by === 'admin'));
  const again = await api(node, 'POST', `/api/alerts/${alert.id}/acknowledge`, {});
  t.equal(again.status, 409);
  t.equal(again.json.error.code, 'alert_acknowledged');
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  await breaker('open');
  await waitFor('counted while acknowledged', async () => (await openAlert())?.count === 5);
  await node.idle();
  t.equal(notifications(FP).length, 2, 'an acknowledged alert does not notify again');

  // The breaker closes: the alert resolves by itself.
  await breaker('closed');
  await waitFor('auto-resolved', async () => (await sql(`select status from omoi_alert where id = $1`, [alert.id]))[0].status === 'resolved');
  const [resolved] = await sql(`select * from omoi_alert where id = $1`, [alert.id]);
  t.match(resolved, { resolved_by: 'auto', resolved_reason: /closed again/ });
  await waitFor('alert.resolved by auto', () => seen.some((e) => e.type === 'alert.resolved' && e.payload.alert_id === alert.id && e.payload.by === 'auto' && e.payload.count === 5));

  // Raised again after it was resolved: a new alert.
  await breaker('open');
  const second = await waitFor('a new alert', openAlert);
  t.not(second.id, alert.id, 'a new id');
  t.match(second, { status: 'raised', count: 1, notification: 1 });

  // A person resolves it with the CLI; the CLI and HTTP refuse a second resolution.
  const env = { OMOI_API_TOKEN: node.apiToken };
  const listed = await runOmoi(['alerts', '--url', node.httpUrl], env);
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, new RegExp(`^${second.id} +critical +raised +circuit_open +1 `, 'm'), 'omoi alerts lists the open alert');
  const shown = await runOmoi(['alerts', 'show', second.id, '--url', node.httpUrl], env);
  t.match(shown.stdout, /^rule +git-breakers$/m);
  const cli = await runOmoi(['alerts', 'resolve', second.id, '--comment', 'replaced the remote', '--url', node.httpUrl], env);
  t.equal(cli.code, 0, cli.stderr);
  t.match(cli.stdout, new RegExp(`alert ${second.id}: resolution accepted`));
  await waitFor('resolved by the person', async () => (await sql(`select * from omoi_alert where id = $1`, [second.id]))[0].status === 'resolved');
  t.match((await sql(`select * from omoi_alert where id = $1`, [second.id]))[0], { resolved_by: 'admin', resolved_reason: 'replaced the remote' });
  const twice = await runOmoi(['alerts', 'resolve', second.id, '--url', node.httpUrl], env);
  t.equal(twice.code, 1);
  t.match(twice.stderr, /already resolved by admin \[alert_resolved\]/);
  const all = JSON.parse((await runOmoi(['alerts', 'list', '--status', 'all', '--kind', 'circuit_open', '--json', '--url', node.httpUrl], env)).stdout);
  t.same(all.map((a: any) => a.status).sort(), ['resolved', 'resolved']);

  // Each person's command audited once, with its principal.
  const audit = await sql(`select principal, channel, command, target, outcome from omoi_audit where command like 'alert.%' order by id`);
  t.same(audit, [
    { principal: 'admin', channel: 'http', command: 'alert.acknowledge', target: alert.id, outcome: 'accepted' },
    { principal: 'admin', channel: 'http', command: 'alert.acknowledge', target: alert.id, outcome: 'refused:alert_acknowledged' },
    { principal: 'admin', channel: 'http', command: 'alert.resolve', target: second.id, outcome: 'accepted' },
    { principal: 'admin', channel: 'http', command: 'alert.resolve', target: second.id, outcome: 'refused:alert_resolved' },
  ]);

  // Metrics: opened alerts by kind and severity; open alerts by kind (fixed label sets).
  const metrics = await (await fetch(`${node.httpUrl}/metrics`)).text();
  t.match(metrics, /omoi_alerts_raised_total\{kind="circuit_open",severity="critical"\} 2/);
  t.match(metrics, /omoi_alerts_open\{kind="circuit_open"\} 0/);
  t.match(metrics, /omoi_alerts_open\{kind="node_lost"\} 0/, 'every kind is a series');
});

t.test('bad input: unknown ids, junk bodies, bad filters and junk events get clear answers; nothing stalls', async (t) => {
  const unknown = await api(node, 'POST', '/api/alerts/al-0000000000000000/resolve', {});
  t.equal(unknown.status, 404);
  t.equal(unknown.json.error.code, 'not_found');
  t.equal((await api(node, 'GET', '/api/alerts/al-nope')).status, 404);
  const junk = await fetch(`${node.httpUrl}/api/alerts/al-0000000000000000/acknowledge`, { method: 'POST', headers: { authorization: `Bearer ${node.apiToken}`, 'content-type': 'application/json' }, body: '[1,2]' });
  t.equal(junk.status, 400);
  const badKind = await api(node, 'GET', '/api/alerts?kind=bogus');
  t.equal(badKind.status, 400);
  t.match(badKind.json.error.message, /kind/);

  // An open alert, then a command body with a field the schema does not know.
  await breaker('open');
  const alert = await waitFor('an open alert', openAlert);
  const extra = await api(node, 'POST', `/api/alerts/${alert.id}/acknowledge`, { comment: 'x', severity: 'info' });
  t.equal(extra.status, 400);
  t.equal(extra.json.error.code, 'schema_violation');
  const cliUnknown = await runOmoi(['alerts', 'ack', 'al-0000000000000000', '--url', node.httpUrl], { OMOI_API_TOKEN: node.apiToken });
  t.equal(cliUnknown.code, 1);
  t.match(cliUnknown.stderr, /\[not_found\]/);

  // Junk on the events stream: the trigger consumer logs and drops it, and maps what follows.
  await node.js.publish(Subjects.event('breaker.state'), new TextEncoder().encode('{not json'));
  await node.js.publish(Subjects.event('breaker.state'), encode(makeEnvelope('breaker.state', { node_id: 'n-x', state: 'open' }, { source: 'test' })));
  await node.js.publish(Subjects.event('agent.status'), encode(makeEnvelope('agent.status', { agent_id: 'x\u0001y', status: 'failed' }, { source: 'test' })));
  await breaker('closed');
  await waitFor('the alert resolved after the junk', async () => (await sql(`select status from omoi_alert where id = $1`, [alert.id]))[0].status === 'resolved');
  t.pass('the consumer went on past malformed events');
});
