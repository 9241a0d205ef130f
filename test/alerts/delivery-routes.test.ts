import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { backoffDelay, RouteRejectedError, RouteUnavailableError, sendTestNotification, signatureOf, slackMessage } from '../../src/alerts/delivery/index.ts';
import { sendThrough } from '../../src/alerts/delivery/route-sender.ts';
import type { AlertRoute } from '../../src/alerts/alerts-config.ts';
import type { AlertNotification } from '../../src/alerts/alert-kinds.ts';
import { freePort, tempDir } from '../harness/index.ts';
import { mailHeader, notification, smtpSink, webhookReceiver } from './receivers.ts';

const N = notification() as AlertNotification;
const request = (routeName: string, extra: Partial<Parameters<typeof sendThrough>[1]> = {}) => ({
  routeName, deliveryId: '42', notification: N, status: 'raised' as const, timeoutMs: 2_000, ...extra,
});

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

t.test('webhook: the JSON notification with status, signed over the exact body, with the delivery id, time and own headers', async (t) => {
  const hook = await webhookReceiver(t, { secret: 's3cret-key' });
  const route: AlertRoute = { type: 'webhook', url: hook.url, secret: { env: 'HOOK_SECRET' }, headers: { 'x-team': 'ops' } };
  const reply = await sendThrough(route, request('ops-webhook', { env: { HOOK_SECRET: 's3cret-key' }, now: () => new Date('2026-12-02T13:00:00.000Z') }));
  t.same(reply, { httpStatus: 200, answer: 'HTTP 200 ok' });
  t.equal(hook.received.length, 1);
  const got = hook.received[0]!;
  t.equal(got.signatureValid, true, 'the receiver verified Omoi-Signature with the shared secret');
  t.equal(got.headers['omoi-signature'], signatureOf('s3cret-key', got.body), 'sha256=<hex HMAC of the body as sent>');
  t.match(got.headers['omoi-signature'], /^sha256=[0-9a-f]{64}$/);
  t.equal(got.headers['omoi-delivery'], '42');
  t.equal(got.headers['omoi-timestamp'], '2026-12-02T13:00:00.000Z');
  t.equal(got.headers['x-team'], 'ops', 'the route\'s own headers are sent');
  t.match(got.headers['content-type'], /^application\/json/);
  t.same(got.json, { ...N, status: 'raised' }, 'the body is the notification with its status');

  const tampered = createTampered(got.body);
  t.not(signatureOf('s3cret-key', tampered), got.headers['omoi-signature'], 'a changed body no longer matches');
  t.not(signatureOf('other-key', got.body), got.headers['omoi-signature'], 'another key does not match');
});

t.test('webhook: no secret, no signature header', async (t) => {
  const hook = await webhookReceiver(t);
  await sendThrough({ type: 'webhook', url: hook.url }, request('plain'));
  t.equal(hook.received[0]!.headers['omoi-signature'], undefined);
});

t.test('a missing {env} secret fails at once with a clear error, before anything is sent', async (t) => {
  const hook = await webhookReceiver(t);
  const err = await failure(sendThrough({ type: 'webhook', url: hook.url, secret: { env: 'OMOI_TEST_UNSET_SECRET' } }, request('ops-webhook', { env: {} })));
  t.ok(err instanceof RouteRejectedError, 'give up: retrying cannot help');
  t.equal((err as RouteRejectedError).code, 'secret_missing');
  t.equal(err.message, 'route ops-webhook: secret is read from the environment variable OMOI_TEST_UNSET_SECRET, which is not set [secret_missing]');
  t.equal(hook.received.length, 0, 'nothing was sent unsigned');
  const mail = await failure(sendThrough({ type: 'email', to: ['ops@example.com'], smtp: { host: '127.0.0.1', port: 25, user: 'u', password: { env: 'OMOI_TEST_UNSET_SMTP' } } }, request('ops-mail', { env: {} })));
  t.match(mail.message, /route ops-mail: smtp\.password is read from the environment variable OMOI_TEST_UNSET_SMTP, which is not set/);
});

t.test('webhook answers: 5xx, 408, 429 retry; other 4xx give up; timeouts and refused connections retry; no URL in errors', async (t) => {
  const statuses = [500, 503, 408, 429, 400, 401, 404];
  const hook = await webhookReceiver(t, { answer: (n) => statuses[n - 1]! });
  const route: AlertRoute = { type: 'webhook', url: `${hook.url}?token=hidden-in-url` };
  for (const status of statuses) {
    const err = await failure(sendThrough(route, request('r')));
    const retry = status >= 500 || status === 408 || status === 429;
    t.ok(retry ? err instanceof RouteUnavailableError : err instanceof RouteRejectedError, `HTTP ${status}: ${retry ? 'retry' : 'give up'}`);
    t.equal((err as RouteUnavailableError).code, retry ? 'route_unavailable' : 'route_refused');
    t.equal((err as RouteUnavailableError).reply.httpStatus, status, 'the status is kept');
    t.notMatch(err.message, /hidden-in-url|hooks/, 'the URL is not in the error');
  }

  const slow = await webhookReceiver(t, { delayMs: 1_000 });
  const timedOut = await failure(sendThrough({ type: 'webhook', url: slow.url }, request('slow', { timeoutMs: 200 })));
  t.ok(timedOut instanceof RouteUnavailableError);
  t.equal((timedOut as RouteUnavailableError).code, 'route_timeout');
  t.match(timedOut.message, /no answer within 200 ms/);

  const port = await freePort();
  const refused = await failure(sendThrough({ type: 'webhook', url: `http://127.0.0.1:${port}/secret-path` }, request('down')));
  t.ok(refused instanceof RouteUnavailableError);
  t.match(refused.message, /connection failed: ECONNREFUSED/);
  t.notMatch(refused.message, /secret-path/);
});

t.test('slack: an incoming-webhook body, { text, blocks }', async (t) => {
  const hook = await webhookReceiver(t);
  const reply = await sendThrough({ type: 'slack', url: hook.url }, request('team-slack', { dashboardUrl: 'http://omoi.example:7070' }));
  t.equal(reply.httpStatus, 200);
  const body = hook.received[0]!.json;
  t.same(Object.keys(body).sort(), ['blocks', 'text']);
  t.equal(body.text, ':rotating_light: [critical] T1: merge of join-D left 2 conflicted files unresolved');
  t.equal(body.blocks[0].type, 'section');
  t.match(body.blocks[0].text, { type: 'mrkdwn', text: /T1: merge of join-D/ });
  t.same(body.blocks[1].fields.map((f: { text: string }) => f.text), ['*kind* merge_unresolved', '*count* 1', '*ticket_id* T1', '*join_id* join-D']);
  t.match(body.blocks[2].elements.map((e: { text: string }) => e.text).join(' '), /alert A-merge-1 · notification 1 .*<http:\/\/omoi\.example:7070\|dashboard>/);
  t.equal(hook.received[0]!.headers['omoi-signature'], undefined, 'Slack routes are not signed');
  const escaped = slackMessage({ ...N, title: 'a <b> & c' }, 'raised');
  t.match((escaped.blocks[0] as { text: { text: string } }).text.text, /a &lt;b&gt; &amp; c/, 'markup characters are escaped in blocks');
});

t.test('email: a real SMTP sink receives the message: subject, fields, dashboard link, delivery id', async (t) => {
  const sink = await smtpSink(t);
  const route: AlertRoute = { type: 'email', to: ['ops@example.com', 'lead@example.com'], from: 'omoi@example.com', smtp: { host: sink.host, port: sink.port } };
  const reply = await sendThrough(route, request('ops-mail', { dashboardUrl: 'http://omoi.example:7070' }));
  t.match(reply.answer, /^250 /, 'the server\'s reply line is the answer');
  t.equal(sink.messages.length, 1);
  const mail = sink.messages[0]!;
  t.equal(mail.from, 'omoi@example.com');
  t.same(mail.to, ['ops@example.com', 'lead@example.com']);
  t.equal(mailHeader(mail.raw, 'Subject'), '[omoi] critical T1: merge of join-D left 2 conflicted files unresolved');
  t.equal(mailHeader(mail.raw, 'Omoi-Delivery'), '42');
  for (const line of [/^kind: +merge_unresolved/m, /^severity: +critical/m, /^ticket_id: +T1/m, /^join_id: +join-D/m, /^alert: +A-merge-1/m, /^Dashboard: http:\/\/omoi\.example:7070/m]) {
    t.match(mail.raw, line);
  }
});

t.test('email: an SMTP 5xx gives up, a 4xx retries, no server retries', async (t) => {
  const refusing = await smtpSink(t, { refuse: 550 });
  const refused = await failure(sendThrough({ type: 'email', to: ['x@example.com'], smtp: { host: refusing.host, port: refusing.port } }, request('m')));
  t.ok(refused instanceof RouteRejectedError);
  t.equal((refused as RouteRejectedError).code, 'route_refused');
  t.match(refused.message, /550/);
  const busy = await smtpSink(t, { refuse: 451 });
  const later = await failure(sendThrough({ type: 'email', to: ['x@example.com'], smtp: { host: busy.host, port: busy.port } }, request('m')));
  t.ok(later instanceof RouteUnavailableError);
  t.match(later.message, /451/);
  const port = await freePort();
  const down = await failure(sendThrough({ type: 'email', to: ['x@example.com'], smtp: { host: '127.0.0.1', port } }, request('m')));
  t.ok(down instanceof RouteUnavailableError, 'no SMTP server: retry');
  t.equal(refusing.messages.length + busy.messages.length, 0);
});

t.test('a test notification goes through a configured route; an unknown route is named', async (t) => {
  const hook = await webhookReceiver(t, { secret: 'k' });
  const reply = await sendTestNotification({ routes: { 'ops-webhook': { type: 'webhook', url: hook.url, secret: 'k' } } }, 'ops-webhook');
  t.equal(reply.httpStatus, 200);
  t.equal(hook.received[0]!.json.status, 'test');
  t.equal(hook.received[0]!.signatureValid, true);
  const err = await failure(sendTestNotification({ routes: { 'ops-webhook': { type: 'webhook', url: hook.url } } }, 'nope'));
  t.equal((err as RouteRejectedError).code, 'route_unknown');
  t.match(err.message, /no route named "nope" in alerts\.routes \(configured: ops-webhook\)/);
});

t.test('backoff doubles per attempt, with jitter between half and all of it, capped', async (t) => {
  const opts = { baseMs: 1_000, maxMs: 10_000 };
  t.same([1, 2, 3, 4, 5, 9].map((a) => backoffDelay(a, opts, () => 0)), [500, 1_000, 2_000, 4_000, 5_000, 5_000]);
  t.same([1, 2, 3, 4, 5, 9].map((a) => backoffDelay(a, opts, () => 0.999999)), [1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
});

t.test("README's signature checks (Node and Python) accept a real webhook's signature and refuse a changed body", async (t) => {
  const hook = await webhookReceiver(t);
  await sendThrough({ type: 'webhook', url: hook.url, secret: 'readme-key' }, request('ops-webhook'));
  const { body, headers } = hook.received[0]!;
  const readme = fs.readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('Verify the signature'));
  const js = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  const py = /```python\n([\s\S]*?)```/.exec(section)?.[1];
  t.ok(js && py, 'README has both checks');
  const dir = await tempDir(t, 'readme-signature');
  const module = path.join(dir, 'verify.mjs');
  fs.writeFileSync(module, `${js}\nexport { verified };\n`);
  const { verified } = await import(module) as { verified: (raw: Buffer, header: unknown, secret: string) => boolean };
  t.equal(verified(Buffer.from(body), headers['omoi-signature'], 'readme-key'), true, 'Node: the real signature checks out');
  t.equal(verified(Buffer.from(createTampered(body)), headers['omoi-signature'], 'readme-key'), false, 'Node: a changed body does not');
  t.equal(verified(Buffer.from(body), undefined, 'readme-key'), false, 'Node: no header does not');
  const script = `${py}\nimport sys\nraw = open(sys.argv[1], 'rb').read()\nprint(verified(raw, sys.argv[2], 'readme-key'))\n`;
  fs.writeFileSync(path.join(dir, 'verify.py'), script);
  fs.writeFileSync(path.join(dir, 'good.json'), body);
  fs.writeFileSync(path.join(dir, 'bad.json'), createTampered(body));
  const run = async (file: string) => (await promisify(execFile)('python3', [path.join(dir, 'verify.py'), path.join(dir, file), String(headers['omoi-signature'])])).stdout.trim();
  t.equal(await run('good.json'), 'True', 'Python: the real signature checks out');
  t.equal(await run('bad.json'), 'False', 'Python: a changed body does not');
});

function createTampered(body: string): string {
  return body.replace('"count":1', '"count":2');
}
