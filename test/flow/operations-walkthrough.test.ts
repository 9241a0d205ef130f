// Issue 9's "done when", as a person would live it on one real node (NATS, PostgreSQL, git, a
// browser): the demo runs with a webhook and an e-mail route configured and its conflict left to
// a person; the unresolved merge reaches the webhook (signed) and the mailbox once each; the
// alert is acknowledged from the dashboard; every ticket shows its spend; a runaway ticket is
// cancelled and its processes are gone at once.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { runDemo } from '../../src/demo/index.ts';
import { webhookReceiver, smtpSink, mailHeader } from '../alerts/receivers.ts';
import { launchChromium } from '../harness/browser.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, task, waitTicket } from './helpers.ts';

const SECRET = 'walkthrough-secret';
const alive = (tag: string) => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === tag);

t.test('the demo with routes configured: alert delivered once per route, acknowledged from the dashboard; spend shown; a runaway cancelled at once', async (t) => {
  const hook = await webhookReceiver(t, { secret: SECRET });
  const mail = await smtpSink(t);
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, {
    alerts: {
      routes: {
        ops: { type: 'webhook', url: hook.url, secret: SECRET },
        oncall: { type: 'email', to: ['oncall@example.com'], from: 'omoi@example.com', smtp: { host: mail.host, port: mail.port } },
      },
      rules: [{ name: 'merges', match: { kind: 'merge_unresolved' }, routes: ['ops', 'oncall'] }],
    },
  });

  // 1. The demo, its config.py conflict left to a person (`omoi start --demo-conflict`).
  const out: string[] = [];
  const demo = await runDemo(node, { write: (l) => out.push(l), resolverCommand: null, sampleRepoDir: path.join(await tempDir(t, 'walkthrough'), 'sample') });
  t.equal(demo.status, 'blocked', 'the demo stops at the merge a person must resolve');
  t.match(demo.reason, /task G blocked: merge_conflict/);

  // 2. The alert reaches both routes, once each, the webhook's signature checking out.
  await waitFor('the webhook got the alert', () => hook.received.length > 0 || undefined, { timeoutMs: 60_000 });
  await waitFor('the mailbox got the alert', () => mail.messages.length > 0 || undefined, { timeoutMs: 60_000 });
  const delivered = hook.received[0]!;
  t.equal(delivered.signatureValid, true, 'signed with the route secret');
  t.match(delivered.json, { kind: 'merge_unresolved', severity: 'critical', fields: { ticket_id: demo.ticketId, join_id: 'join-G' }, routes: ['ops', 'oncall'], notification: 1 });
  t.match(mailHeader(mail.messages[0]!.raw, 'Subject'), new RegExp(`\\[omoi\\] critical ${demo.ticketId}: merge of join-G`));
  await new Promise((r) => setTimeout(r, 2_000));
  t.equal(hook.received.length, 1, 'the webhook was told once');
  t.equal(mail.messages.length, 1, 'one e-mail');
  const alert = (await sql<any>(node, `select * from omoi_alert where kind = 'merge_unresolved'`))[0];
  t.match(alert, { id: delivered.json.alert_id, status: 'raised' });

  // 3. Acknowledged from the dashboard, as a person would: sign in, find it, click, confirm.
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
  const row = page.locator(`#alerts tr[data-alert="${alert.id}"]`);
  await row.waitFor();
  t.match(await row.innerText(), /merge_unresolved[\s\S]*critical/);
  page.once('dialog', (d) => void d.accept('looking at config.py'));
  await row.locator('button', { hasText: 'acknowledge' }).click();
  await page.locator('#alerts-answer', { hasText: 'accepted' }).waitFor();
  const acked = await waitFor('the alert is acknowledged', async () => (await sql<any>(node, `select * from omoi_alert where id = ? and status = 'acknowledged'`, [alert.id]))[0]);
  t.match(acked, { acknowledged_by: 'admin', acknowledged_comment: 'looking at config.py' });
  const audited = await sql<any>(node, `select principal, command, outcome from omoi_audit where command = 'alert.acknowledge'`);
  t.same(audited, [{ principal: 'admin', command: 'alert.acknowledge', outcome: 'accepted' }], 'audited once, with who');

  // 4. Spend: every ticket's, in the API and on the page.
  const api = await (await fetch(`${node.httpUrl}/api/tickets/${demo.ticketId}`, { headers: { authorization: `Bearer ${node.apiToken}` } })).json() as any;
  t.ok(api.ticket.spend.wall_ms > 0 && api.ticket.spend.attempts >= 6, `the demo's attempts are counted: ${JSON.stringify(api.ticket.spend)}`);
  t.ok(api.attempt_usage.length >= 6, 'each attempt\'s usage is listed');
  const spendCell = page.locator(`.ticket-row[data-ticket="${demo.ticketId}"] td.spend`);
  await spendCell.waitFor();
  t.match(await spendCell.innerText(), /\d+(\.\d+)?s/, 'the dashboard shows its wall time');

  // 5. A runaway ticket, cancelled: its whole process tree is gone at once.
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const tag = `sleep ${700 + (process.pid % 1000)}.${Date.now() % 1000}`;
  await node.submit('ticket.create', { ticket_id: 'T-runaway', title: 'runaway', repository: repo.dir, tasks: [task('A', `sh -c '${tag}' & wait`, { timeout_ms: 600_000 })] });
  await waitFor('the runaway command runs', () => alive(tag) || undefined, { timeoutMs: 60_000 });
  const res = await fetch(`${node.httpUrl}/api/tickets/T-runaway/cancel`, {
    method: 'POST', headers: { authorization: `Bearer ${node.apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'runaway' }),
  });
  t.equal(res.status, 202, 'cancel accepted');
  await waitTicket(node, 'T-runaway', 'cancelled');
  await waitFor('its process tree is gone', () => !alive(tag) || undefined, { timeoutMs: 10_000 });
  t.same(await sql(node, `select count(*)::int as n from omoi_file_claim where ticket_id = 'T-runaway'`), [{ n: 0 }], 'its claims released');
  t.same(pageErrors, [], 'no errors in the page');
});
