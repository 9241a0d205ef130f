import t from 'tap';
import { launchChromium } from '../harness/browser.ts';
import { startTestNode, TOKEN } from './helpers.ts';
import { seedBlockedDiamond, seedCluster, seedEvent } from './seed.ts';

const SCREENSHOT = '/tmp/omoi-dashboard.png';

/** A new viewer principal `wall-screen`, made by the node's admin; its token. */
async function viewerToken(url: string): Promise<string> {
  const created = await fetch(`${url}/api/tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'wall-screen', role: 'viewer' }),
  });
  return ((await created.json()) as { token: string }).token;
}

t.test('the dashboard shows tickets, the DAG with statuses and blocked reasons, agents, dead letters and live events', async (t) => {
  const node = await startTestNode(t);
  await seedBlockedDiamond(node.db, 'T-diamond');
  await seedCluster(node.db);
  // Its attempts spent past its cost limit.
  await node.db.em().getConnection().execute(`update omoi_ticket set budget = '{"cost_usd":1,"wall_ms":null,"warn_share":null,"on_exceeded":null}',
    spend = '{"cost_usd":1.5,"wall_ms":95000,"input_tokens":10,"output_tokens":2,"attempts":3}', budget_exceeded = true where id = 'T-diamond'`);
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));

  await page.goto(`${node.url}/#token=${encodeURIComponent(TOKEN)}`);
  t.notMatch(page.url(), /token=/, 'the token leaves the address bar');
  t.equal(await page.evaluate('localStorage.getItem("omoi.apiToken")'), TOKEN, 'the token is kept in localStorage');

  const ticketRow = page.locator('.ticket-row[data-ticket="T-diamond"]');
  await ticketRow.waitFor();
  t.match(await ticketRow.innerText(), /Diamond with a conflicting merge/);
  t.match(await ticketRow.innerText(), /running/);
  const spend = ticketRow.locator('td.spend');
  t.equal(await spend.innerText(), '$1.50 / $1.00 · 95s · over budget', 'the spend column: cost against its limit, wall time, over budget');
  t.match(await spend.getAttribute('class'), /over-budget/, 'marked over budget');

  await ticketRow.click();
  const taskD = page.locator('.task[data-task="D"]');
  await taskD.waitFor();
  const statuses = await page.locator('.task').evaluateAll((cards) => cards.map((c) => `${c.getAttribute('data-task')}:${c.getAttribute('data-status')}`));
  t.same(statuses, ['A:completed', 'B:completed', 'C:completed', 'D:blocked', 'E:pending'], 'every task with its status, in depth order');
  for (const [task, status] of [['A', 'completed'], ['D', 'blocked'], ['E', 'pending']]) {
    t.ok(await page.locator(`.task[data-task="${task}"] .badge`, { hasText: status }).isVisible(), `task ${task} shows a visible ${status} badge`);
  }
  const levels = await page.locator('.level').evaluateAll((ls) => ls.map((l) => Array.from(l.querySelectorAll('.task') as Iterable<{ getAttribute(name: string): string | null }>).map((c) => c.getAttribute('data-task')).join(',')));
  t.same(levels, ['A', 'B,C', 'D', 'E'], 'tasks grouped by dependency depth');

  const blockedReason = page.locator('.task[data-task="D"] .blocked-reason');
  t.ok(await blockedReason.isVisible(), 'the blocked reason is visible on the task');
  t.match(await blockedReason.innerText(), /merge_conflict/);
  t.match(await page.locator('#detail-blocked').innerText(), /D \(merge_conflict\)/, 'and summarised above the DAG');

  const join = page.locator('#joins tr[data-join="join-D"]');
  t.match(await join.innerText(), /2\/2 collected/, 'the join shows collected/total sources');
  t.match(await join.innerText(), /merge_conflict/);
  t.match(await join.innerText(), /config\.py/);
  const merge = page.locator('.merge[data-join="join-D"]');
  t.match(await merge.innerText(), /C → B/, 'the merge attempt shows its order');
  t.match(await merge.innerText(), /B: config\.py/, 'and the conflicts per source');

  t.match(await page.locator('#agents tr[data-agent="agent-1"]').innerText(), /healthy/, 'agents with status');
  t.match(await page.locator('#dead-letters').innerText(), /schema_violation/, 'open dead letters');
  await page.locator('#events li', { hasText: 'merge.attempted' }).waitFor();

  // A new event appears without reloading: the feed polls /api/events?after=.
  await seedEvent(node.db, 'live-1', 'T-diamond', 'ticket.completed');
  await page.locator('#events li', { hasText: 'ticket.completed' }).waitFor();
  t.pass('a new event appears in the live feed');

  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  t.same(pageErrors, [], 'no JavaScript errors on the page');
});

t.test('without a token the dashboard asks for one, and a wrong one is refused', async (t) => {
  const node = await startTestNode(t);
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(node.url);
  await page.locator('#login-form').waitFor();
  t.notOk(await page.locator('#board').isVisible(), 'nothing is shown without a token');

  await page.fill('#token-input', 'not-the-token');
  await page.click('#login-form button[type=submit]');
  await page.locator('#login-error', { hasText: 'refused' }).waitFor();
  t.pass('a wrong token returns to the form with a message');

  await page.fill('#token-input', TOKEN);
  await page.click('#login-form button[type=submit]');
  await page.locator('#tickets-empty').waitFor();
  t.ok(await page.locator('#board').isVisible(), 'the right token opens the board');
});

t.test('a viewer token opens the dashboard; retrying a dead letter shows the server\'s 403 and changes nothing', async (t) => {
  const node = await startTestNode(t);
  await seedCluster(node.db);
  const token = await viewerToken(node.url);
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(`${node.url}/#token=${encodeURIComponent(token)}`);
  await page.locator('#dead-letters li').first().waitFor();
  t.ok(await page.locator('#board').isVisible(), 'the viewer sees the board');

  await page.locator('#dead-letters li button', { hasText: 'retry' }).first().click();
  const error = page.locator('#dead-letters-error', { hasText: 'forbidden' });
  await error.waitFor();
  t.match(await error.innerText(), /retry refused: 403 forbidden: admin role needed; wall-screen is viewer/, 'the server\'s answer is shown');
  const [letter] = await node.db.em().getConnection().execute(`select status from omoi_dead_letter order by id limit 1`);
  t.equal(letter.status, 'open', 'the dead letter is still open');
  t.ok(await page.locator('#board').isVisible(), 'and the viewer stays signed in');

  await page.locator('#audit-panel summary').click();
  const auditError = page.locator('#audit-error', { hasText: 'forbidden' });
  await auditError.waitFor();
  t.match(await auditError.innerText(), /403 forbidden: admin role needed/, 'the audit log is for admins: the viewer sees why not');
  t.equal(await page.locator('#audit tr').count(), 0, 'and no row');
});

t.test('an admin reads the audit log in the dashboard: the refused retry is there with its principal', async (t) => {
  const node = await startTestNode(t);
  await seedCluster(node.db);
  const token = await viewerToken(node.url);
  await fetch(`${node.url}/api/dlq/1/retry`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${node.url}/#token=${encodeURIComponent(TOKEN)}`);
  await page.locator('#audit-panel summary').click();
  const rows = page.locator('#audit tr');
  await rows.nth(1).waitFor();
  const text = await page.locator('#audit').innerText();
  t.match(text, /wall-screen[\s\S]*dlq\.retry[\s\S]*refused:forbidden/, 'the viewer\'s refused retry, with who and the outcome');
  t.match(text, /admin[\s\S]*token\.create[\s\S]*wall-screen[\s\S]*accepted/, 'the token the admin made');
  t.same(pageErrors, [], 'no page errors');
});

t.test('the Alerts panel: open alerts first with severity, count and age; acknowledge and resolve after a confirmation, with the server\'s answer', async (t) => {
  const node = await startTestNode(t);
  await seedCluster(node.db);
  await node.db.em().getConnection().execute(`insert into omoi_alert (id, fingerprint, kind, severity, status, title, fields, count, notification,
      first_raised_at, last_raised_at, last_notified_at, routes, dedupe_window_ms, updated_at) values
    ('al-warn', 'agent_degraded:a1', 'agent_degraded', 'warning', 'raised', 'agent a1 degraded', '{}', 2, 1, now() - interval '5 minutes', now(), now(), '[]', 3600000, now()),
    ('al-crit', 'merge_unresolved:T1/join-D', 'merge_unresolved', 'critical', 'raised', 'T1: merge of join-D left 1 conflicted file unresolved', '{}', 7, 1, now() - interval '2 hours', now(), now(), '[]', 3600000, now()),
    ('al-old', 'ticket_failed:T0', 'ticket_failed', 'critical', 'resolved', 'ticket T0 failed', '{}', 1, 1, now(), now(), now(), '[]', 3600000, now())`);
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  await page.goto(`${node.url}/#token=${encodeURIComponent(TOKEN)}`);
  await page.locator('#alerts tr').first().waitFor();
  t.same(await page.locator('#alerts tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-alert'))), ['al-crit', 'al-warn'], 'open alerts only, most severe first');
  const crit = page.locator('#alerts tr[data-alert="al-crit"]');
  t.match(await crit.innerText(), /merge_unresolved[\s\S]*critical[\s\S]*raised[\s\S]*\b7\b[\s\S]*2h/, 'kind, severity, status, count and age');
  t.match(await page.locator('#alerts-count').innerText(), /2 open/i);

  // Cancelling the confirmation sends nothing; accepting it sends the command with the comment.
  page.once('dialog', (d) => void d.dismiss());
  await crit.locator('button', { hasText: 'acknowledge' }).click();
  await new Promise((r) => setTimeout(r, 300));
  t.same(node.submitted, [], 'cancelled: nothing sent');
  page.once('dialog', (d) => void d.accept('on it'));
  await crit.locator('button', { hasText: 'acknowledge' }).click();
  const answer = page.locator('#alerts-answer', { hasText: 'accepted' });
  await answer.waitFor();
  t.match(await answer.innerText(), /acknowledge of al-crit accepted \(message /, 'the server\'s answer is shown');
  t.same(node.submitted.map((c) => [c.type, c.payload]), [['alert.acknowledge', { alert_id: 'al-crit', fingerprint: 'merge_unresolved:T1/join-D', by: 'admin', comment: 'on it' }]]);

  // A viewer may look but not act: the 403 is shown.
  const viewer = await viewerToken(node.url);
  const viewerPage = await browser.newPage();
  await viewerPage.goto(`${node.url}/#token=${encodeURIComponent(viewer)}`);
  await viewerPage.locator('#alerts tr[data-alert="al-warn"]').waitFor();
  viewerPage.once('dialog', (d) => void d.accept(''));
  await viewerPage.locator('#alerts tr[data-alert="al-warn"] button', { hasText: 'resolve' }).click();
  const refused = viewerPage.locator('#alerts-answer', { hasText: 'refused' });
  await refused.waitFor();
  t.match(await refused.innerText(), /resolve of al-warn refused: 403 forbidden: operator role needed; wall-screen is viewer/);
  t.equal(node.submitted.length, 1, 'nothing more sent');
});
