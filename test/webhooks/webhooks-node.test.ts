import { createHmac } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import t from 'tap';
import { encode, makeEnvelope, Subjects } from '../../src/protocol/index.ts';
import { runOmoi } from '../cli/run-omoi.ts';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { webhookReceiver } from '../alerts/receivers.ts';

/**
 * Webhooks on a real node (NATS, PostgreSQL, HTTP): outgoing subscriptions get matching events
 * signed, retried after a 500, once per event; the incoming GitHub endpoint refuses a bad
 * signature, turns a labelled issue into one ticket (once per delivery id) and a `/omoi cancel`
 * comment into its cancellation.
 */
const GITHUB_SECRET = 'github-hook-secret-for-tests';

t.test('outgoing: a signed delivery retried after a 500 arrives once, with the same delivery id; a filter that does not match sends nothing', async (t) => {
  const hook = await webhookReceiver(t, { secret: 'subscriber-secret-0123456789', timestamped: true, answer: (n) => (n === 1 ? 500 : 200) });
  const other = await webhookReceiver(t, { secret: 'other-secret-0123456789ab', timestamped: true });
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(node.httpUrl + p, {
      method, headers: { authorization: `Bearer ${node.apiToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: await res.json() as any };
  };

  const created = await api('POST', '/api/webhooks', { url: hook.url, events: ['ticket.*'], secret: 'subscriber-secret-0123456789' });
  t.equal(created.status, 201, JSON.stringify(created.json));
  t.equal(created.json.secret, 'subscriber-secret-0123456789', 'the secret is answered at creation');
  const sub = created.json.id as string;
  const unmatched = await api('POST', '/api/webhooks', { url: other.url, events: ['budget.*'], secret: 'other-secret-0123456789ab' });
  t.equal(unmatched.status, 201);
  const generated = await api('POST', '/api/webhooks', { url: other.url, events: ['nothing.ever'] });
  t.match(generated.json.secret, /^whsec_[0-9a-f]{48}$/, 'a secret is generated when none is given');
  const bad = await api('POST', '/api/webhooks', { url: 'ftp://x', events: ['ticket.*'] });
  t.same([bad.status, bad.json.error.code], [400, 'invalid_url']);
  const badGlob = await api('POST', '/api/webhooks', { url: hook.url, events: ['ticket created'] });
  t.same([badGlob.status, badGlob.json.error.code, badGlob.json.error.field], [400, 'invalid_events', '/events/0']);

  const listed = await api('GET', '/api/webhooks');
  t.equal(listed.json.webhooks.length, 3);
  t.notOk(JSON.stringify(listed.json).includes('secret'), 'no secret in the list');

  // One event, published twice (a redelivery: the same event id), and one no subscription wants.
  const js = jetstream(await withClient(t, cluster));
  const env = makeEnvelope('ticket.created', { ticket_id: 'T-hook', title: 'hooked', tasks: ['A'], joins: [] }, { source: 'test' });
  await js.publish(Subjects.event('ticket.created'), encode(env));
  await js.publish(Subjects.event('ticket.created'), encode(env));
  const ignored = makeEnvelope('node.status', { node_id: 'n', status: 'started', partitions: [] }, { source: 'test' });
  await js.publish(Subjects.event('node.status'), encode(ignored));

  const [delivery] = await waitFor('the delivery delivered', async () => {
    const { json } = await api('GET', `/api/webhooks/${sub}/deliveries`);
    return json.deliveries.length === 1 && json.deliveries[0].status === 'delivered' && json.deliveries;
  }, { timeoutMs: 30_000 });
  t.match(delivery, { event_id: env.id, event_type: 'ticket.created', status: 'delivered', attempts: 2, last_http_status: 200, last_error: null, next_attempt_at: null });

  const jsm = await jetstreamManager(node.nc);
  await waitFor('every event acknowledged', async () => {
    const info = await jsm.consumers.info('OMOI_EVT', 'webhook-delivery');
    return info.num_pending === 0 && info.num_ack_pending === 0;
  });
  t.equal(hook.received.length, 2, 'one failed attempt (500) and one retry');
  const [first, second] = hook.received;
  t.ok(first!.signatureValid && second!.signatureValid, 'both attempts signed over the timestamp and the body');
  t.equal(first!.headers['omoi-delivery'], second!.headers['omoi-delivery'], 'the same delivery id on the retry');
  t.equal(second!.headers['omoi-delivery'], String(delivery.id));
  t.equal(second!.headers['omoi-event'], 'ticket.created');
  t.match(second!.json, { id: env.id, type: 'ticket.created', payload: { ticket_id: 'T-hook' } }, 'the body is the event envelope');
  t.equal(other.received.length, 0, 'a filter that does not match sends nothing');
  t.same((await api('GET', `/api/webhooks/${unmatched.json.id}/deliveries`)).json.deliveries, []);

  const cliToken = { OMOI_API_TOKEN: node.apiToken };
  const shown = await runOmoi(['webhooks', 'deliveries', sub, '--url', node.httpUrl], cliToken);
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, new RegExp(`^${delivery.id} +${env.id} +ticket\\.created +delivered +2 +- +200 +-$`, 'm'), 'omoi webhooks deliveries shows the last status');
  const added = await runOmoi(['webhooks', 'add', hook.url, '--event', 'task.*', '--ticket', 'T-cli', '--url', node.httpUrl], cliToken);
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, /^wh-[0-9a-f]{16}: task\.\* of ticket T-cli → http:\/\/127\.0\.0\.1:\d+\/hooks\/omoi\nsecret: whsec_[0-9a-f]{48}\n/);
  const cliList = await runOmoi(['webhooks', 'list', '--url', node.httpUrl], cliToken);
  t.notOk(cliList.stdout.includes('whsec_'), 'the CLI list shows no secret');
  t.equal(cliList.stdout.trim().split('\n').length, 5, 'a header and four subscriptions');
  const removedByCli = await runOmoi(['webhooks', 'remove', added.stdout.slice(0, 19), '--url', node.httpUrl], cliToken);
  t.match(removedByCli.stdout, /^removed wh-[0-9a-f]{16} \(at /);

  // Removed: later events are not delivered to it; it is still listed with all=true.
  const removed = await api('DELETE', `/api/webhooks/${sub}`);
  t.match(removed.json, { id: sub, active: false });
  t.equal((await api('GET', '/api/webhooks')).json.webhooks.length, 2);
  t.equal((await api('GET', '/api/webhooks?all=true')).json.webhooks.length, 4);
  t.equal((await api('GET', '/api/webhooks/wh-unknown/deliveries')).json.error.code, 'subscription_not_found');

  const metrics = await (await fetch(`${node.httpUrl}/metrics`)).text();
  t.match(metrics, /^omoi_webhook_deliveries_total\{outcome="retry"\} 1$/m);
  t.match(metrics, /^omoi_webhook_deliveries_total\{outcome="delivered"\} 1$/m);
});

t.test('incoming GitHub: a bad signature is refused, a labelled issue makes one ticket once, /omoi cancel cancels it', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, {
    webhooks: {
      github: {
        secret: GITHUB_SECRET, repository: repo.dir, base_branch: 'main',
        rules: [
          // No agent has this capability: the ticket stays open, to be cancelled.
          { event: 'issues', action: 'labeled', label: 'omoi', create_ticket: { task: { kind: 'agent', run: 'Fix: {issue_title}\n\n{issue_body}', capabilities: ['nobody-has-this'] } } },
          { event: 'issue_comment', command: '/omoi cancel', cancel_ticket: true },
        ],
      },
    },
  });
  const hook = async (event: string, delivery: string, body: unknown, opts: { secret?: string; raw?: string } = {}) => {
    const raw = opts.raw ?? JSON.stringify(body);
    const signature = `sha256=${createHmac('sha256', opts.secret ?? GITHUB_SECRET).update(raw).digest('hex')}`;
    const res = await fetch(`${node.httpUrl}/api/hooks/github`, {
      method: 'POST', body: raw,
      headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': delivery, 'x-hub-signature-256': signature },
    });
    return { status: res.status, json: await res.json() as any };
  };
  const tickets = async () => {
    const res = await fetch(`${node.httpUrl}/api/tickets`, { headers: { authorization: `Bearer ${node.apiToken}` } });
    return ((await res.json()) as any).tickets as any[];
  };
  const repository = { full_name: 'acme/app', clone_url: 'https://github.com/acme/app.git', default_branch: 'main' };
  const labelled = {
    action: 'labeled', label: { name: 'omoi' }, sender: { login: 'octocat' }, repository,
    issue: { number: 7, title: 'Crash on empty input', body: 'Steps: run with no args.', html_url: 'https://github.com/acme/app/issues/7' },
  };

  const forged = await hook('issues', 'd-forged', labelled, { secret: 'not-the-secret' });
  t.same([forged.status, forged.json.error.code], [401, 'bad_signature'], 'a bad signature is refused');
  const unsigned = await fetch(`${node.httpUrl}/api/hooks/github`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'x-github-event': 'issues', 'x-github-delivery': 'd-unsigned' } });
  t.equal(unsigned.status, 401, 'no signature is refused');
  const malformed = await hook('issues', 'd-malformed', undefined, { raw: '{"action":' });
  t.same([malformed.status, malformed.json.error.code], [400, 'malformed_json']);
  const missingNumber = await hook('issues', 'd-nonumber', { ...labelled, issue: { title: 'x' } });
  t.same([missingNumber.status, missingNumber.json.error.code, missingNumber.json.error.field], [400, 'invalid_payload', '/issue/number']);
  const unknown = await hook('star', 'd-star', { action: 'created' });
  t.same([unknown.status, unknown.json.outcome], [202, 'ignored'], 'an event no rule names is ignored');
  const otherLabel = await hook('issues', 'd-bug', { ...labelled, label: { name: 'bug' } });
  t.same([otherLabel.status, otherLabel.json.outcome], [202, 'ignored']);
  t.same(await tickets(), [], 'no ticket from any of these');

  const applied = await hook('issues', 'd-label-1', labelled);
  t.equal(applied.status, 202, JSON.stringify(applied.json));
  t.match(applied.json, { outcome: 'applied', command: 'ticket.create', ticket_id: /^gh-7-[0-9a-f]{12}$/ });
  const ticketId = applied.json.ticket_id as string;
  const again = await hook('issues', 'd-label-1', labelled);
  t.same([again.status, again.json.outcome], [200, 'duplicate'], 'the same delivery id again does nothing');
  const ticket = await waitFor('the ticket exists', async () => (await tickets()).find((x) => x.id === ticketId));
  t.equal(ticket.title, 'acme/app#7: Crash on empty input');
  t.equal((await tickets()).length, 1, 'exactly one ticket');

  const detail = await (await fetch(`${node.httpUrl}/api/tickets/${ticketId}`, { headers: { authorization: `Bearer ${node.apiToken}` } })).json() as any;
  t.match(JSON.stringify(detail), /Steps: run with no args\./, 'the issue body is in the task');

  // A stranger's /omoi cancel is ignored; a collaborator's cancels the ticket.
  const comment = (association: string) => ({
    action: 'created', sender: { login: 'maintainer' }, repository, issue: { number: 7, title: 'Crash on empty input' },
    comment: { body: '/omoi cancel\nnot needed', author_association: association },
  });
  const stranger = await hook('issue_comment', 'd-comment-0', comment('NONE'));
  t.same([stranger.status, stranger.json.outcome], [202, 'ignored']);
  const cancelled = await hook('issue_comment', 'd-comment-1', comment('COLLABORATOR'));
  t.match(cancelled.json, { outcome: 'applied', command: 'ticket.cancel', ticket_id: ticketId });
  await waitFor('the ticket cancelled', async () => (await tickets()).find((x) => x.id === ticketId)?.status === 'cancelled', { timeoutMs: 20_000 });

  const audit = await (await fetch(`${node.httpUrl}/api/audit?principal=github:maintainer`, { headers: { authorization: `Bearer ${node.apiToken}` } })).json() as any;
  t.match(audit.audit, [{ principal: 'github:maintainer', command: 'ticket.cancel', target: ticketId, outcome: 'accepted' }], 'audited as the GitHub sender');

  const metrics = await (await fetch(`${node.httpUrl}/metrics`)).text();
  t.match(metrics, /^omoi_github_hooks_total\{outcome="refused"\} 4$/m);
  t.match(metrics, /^omoi_github_hooks_total\{outcome="duplicate"\} 1$/m);
  // GitHub's form encoding (payload=<json>) is signed and read the same way.
  const formRaw = new URLSearchParams({ payload: JSON.stringify({ ...comment('COLLABORATOR'), issue: { number: 99 } }) }).toString();
  const formSignature = `sha256=${createHmac('sha256', GITHUB_SECRET).update(formRaw).digest('hex')}`;
  const form = await fetch(`${node.httpUrl}/api/hooks/github`, {
    method: 'POST', body: formRaw,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': 'issue_comment', 'x-github-delivery': 'd-form', 'x-hub-signature-256': formSignature },
  });
  t.match([form.status, await form.json()], [202, { outcome: 'ignored', reason: 'no ticket was made from acme/app#99' }]);

  // Bad signatures count as failed authentications: two so far, eight more, then the address is refused.
  for (let i = 0; i < 8; i++) t.equal((await hook('issues', `d-forged-${i}`, labelled, { secret: 'wrong' })).status, 401);
  const blocked = await hook('issues', 'd-label-2', labelled);
  t.same([blocked.status, blocked.json.error.code], [429, 'too_many_failures'], 'the API\'s failure limit applies');
  const [{ n }] = await node.db.em().getConnection().execute(`select count(*)::int as n from omoi_ticket`);
  t.equal(n, 1, 'still one ticket (read from the database: this address is refused by the API for a minute)');

  const health = await fetch(`${node.httpUrl}/healthz`);
  t.equal(health.status, 200, 'the node is still up after all this input');
});
