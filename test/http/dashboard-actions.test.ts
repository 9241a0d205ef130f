// Cancel from the dashboard, as a person would (a real node, real processes, headless Chromium):
// a running task's cancel button kills its command at once while its sibling runs on; the
// ticket's cancel button then stops the rest. Each asks first and shows the server's answer.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { launchChromium } from '../harness/browser.ts';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, task, taskRows, waitTask, waitTicket } from '../flow/helpers.ts';

const alive = (tag: string) => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === tag);

t.test('cancel a running task, then its ticket, from the page: their processes are gone at once', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { localAgentCapacity: 2 });
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const base = `${800 + (process.pid % 1000)}.${Date.now() % 1000}`;
  const [tagA, tagB] = [`sleep ${base}1`, `sleep ${base}2`];
  await node.submit('ticket.create', {
    ticket_id: 'T-page', title: 'two long tasks', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', `sh -c '${tagA}' & wait`, { timeout_ms: 600_000 }), task('B', `sh -c '${tagB}' & wait`, { timeout_ms: 600_000 })],
  });
  await waitTask(node, 'T-page', 'A', 'running');
  await waitTask(node, 'T-page', 'B', 'running');
  await waitFor('both commands run', () => (alive(tagA) && alive(tagB)) || undefined);

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
  await page.locator('.ticket-row[data-ticket="T-page"]').click();
  const cardA = page.locator('.task[data-task="A"]');
  await cardA.locator('button.cancel-task').waitFor();

  // Dismissing the confirmation sends nothing.
  page.once('dialog', (d) => void d.dismiss());
  await cardA.locator('button.cancel-task').click();
  await new Promise((r) => setTimeout(r, 500));
  t.equal((await taskRows(node, 'T-page')).A!.status, 'running', 'not confirmed: still running');

  page.once('dialog', (d) => {
    t.match(d.message(), /Cancel task A of T-page\? Its running processes are killed at once/, 'the confirmation says what happens');
    void d.accept('wrong approach');
  });
  await cardA.locator('button.cancel-task').click();
  t.match(await page.locator('#detail-answer', { hasText: 'accepted' }).innerText(), /cancel of task A of T-page accepted \(message /, "the server's answer is shown");
  await waitTask(node, 'T-page', 'A', 'cancelled');
  await waitFor('task A\'s command is gone', () => !alive(tagA) || undefined, { timeoutMs: 5_000 });
  t.ok(alive(tagB), 'its sibling runs on');
  const a = (await taskRows(node, 'T-page')).A!;
  t.match(a, { reason: /wrong approach/, cancelled_by: 'http:admin' }, 'why and by whom, recorded');
  await page.locator('.task[data-task="A"][data-status="cancelled"]').waitFor();
  t.equal(await page.locator('.task[data-task="A"] button.cancel-task').count(), 0, 'a cancelled task offers no cancel');

  page.once('dialog', (d) => void d.accept(''));
  await page.locator('#detail-title button.cancel-ticket').click();
  await page.locator('#detail-answer', { hasText: 'cancel of ticket T-page accepted' }).waitFor();
  await waitTicket(node, 'T-page', 'cancelled');
  await waitFor('task B\'s command is gone', () => !alive(tagB) || undefined, { timeoutMs: 5_000 });
  t.same(await sql(node, `select count(*)::int as n from omoi_file_claim where ticket_id = 'T-page'`), [{ n: 0 }], 'claims released');
  await page.locator('#detail-title .badge', { hasText: 'cancelled' }).waitFor();
  t.equal(await page.locator('#detail-title button.cancel-ticket').count(), 0, 'a cancelled ticket offers no cancel');
  const audited = await sql<{ command: string; principal: string }>(node, `select command, principal from omoi_audit where command in ('task.cancel', 'ticket.cancel') order by id`);
  t.same(audited, [{ command: 'task.cancel', principal: 'admin' }, { command: 'ticket.cancel', principal: 'admin' }], 'both audited with who');
  t.same(pageErrors, [], 'no errors in the page');
});
