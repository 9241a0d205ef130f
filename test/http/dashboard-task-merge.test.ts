// The task and merge-attempt views in Chromium against a real node (NATS, PostgreSQL, git): a
// conflicting join is opened from the ticket, its hunks read, the resolving commit supplied from
// the page, and the continuation runs until the ticket completes; a running task's output grows
// on the page as the command prints. Screenshots are kept as artifacts in /tmp.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Page } from 'playwright-core';
import { launchChromium } from '../harness/browser.ts';
import { makeRepo } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { gitIn, task, waitTask, waitTicket } from '../flow/helpers.ts';

const SCREENSHOTS = { merge: '/tmp/omoi-dashboard-merge.png', mergeNarrow: '/tmp/omoi-dashboard-merge-375.png', task: '/tmp/omoi-dashboard-task.png' };
const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
const edit = (v: string) => `sed -i 's/^line 5$/TIMEOUT = ${v}/' config.py`;

/** Every error the page reports: uncaught exceptions and console errors. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return errors;
}

const cluster = await withCluster(t);
const node = await withNode(t, cluster);
const browser = await launchChromium(t);

t.test('resolve a blocked merge from the merge attempt view; the continuation runs and the ticket completes', async (t) => {
  const repo = await makeRepo(t, { 'config.py': lines(10) });
  await node.submit('ticket.create', {
    ticket_id: 'T-ui', title: 'conflict', repository: repo.dir, base_branch: 'main',
    tasks: [task('A', edit('10'), { owns: ['config.py'] }), task('B', edit('20'), { owns: ['config.py'] }), task('C', 'echo continued > after.txt', { depends_on: ['A', 'B'], owns: ['after.txt'] })],
  });
  await waitTask(node, 'T-ui', 'C', 'blocked');

  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
  await page.locator('.ticket-row[data-ticket="T-ui"]').click();
  await page.locator('.merge[data-join="join-C"] a', { hasText: 'join-C · attempt 1' }).click();
  t.equal(new URL(page.url()).hash, '#/tickets/T-ui/joins/join-C/merges/1', 'the merge attempt has its own address');

  const hunks = page.locator('#merge-files .merge-file[data-file="config.py"] pre.hunks');
  await hunks.waitFor();
  t.equal(await hunks.innerText(), ['line 3', 'line 4', '<<<<<<< merge-head', 'TIMEOUT = 10', '=======', 'TIMEOUT = 20', '>>>>>>> B', 'line 6', 'line 7'].join('\n'), 'the conflict hunk, as written');
  const order = await page.locator('#merge-order tr').evaluateAll((rows) => rows.map((r) => Array.from(r.querySelectorAll('td') as Iterable<{ textContent: string | null }>).map((c) => c.textContent).join('|')));
  t.match(order, [/^1\|A\|[0-9a-f]{10}\|merged\|$/, /^2\|B\|[0-9a-f]{10}\|conflicted\|config\.py$/], 'the order, each source\'s outcome and conflicts');
  t.match(await page.locator('#merge-resolver').innerText(), /none configured/);
  t.ok(await page.locator('#merge-resolve').isVisible(), 'a blocked join offers a resolution');
  await page.screenshot({ path: SCREENSHOTS.merge, fullPage: true });

  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = await page.evaluate(`(() => {
    const view = document.getElementById('view');
    return { view: view.scrollWidth - view.clientWidth, page: document.documentElement.scrollWidth - document.documentElement.clientWidth };
  })()`);
  t.same(overflow, { view: 0, page: 0 }, 'readable at 375 px: nothing wider than the screen (the hunks scroll inside their box)');
  await page.screenshot({ path: SCREENSHOTS.mergeNarrow, fullPage: true });
  await page.setViewportSize({ width: 1400, height: 900 });

  // Dismissed: nothing is sent.
  page.once('dialog', (d) => void d.dismiss());
  await page.locator('#merge-use-commit').click();
  await new Promise((r) => setTimeout(r, 300));
  t.equal(await page.locator('#merge-answer').innerText(), '', 'not confirmed: nothing sent');

  // By keyboard: focus the button and press Enter; the prompt takes the commit (A's side).
  const head = (await gitIn(node, 'T-ui', 'rev-parse', 'omoi-task/T-ui/A')).trim();
  page.once('dialog', (d) => {
    t.match(d.message(), /Resume join join-C of ticket T-ui on a commit of your own\?/, 'the prompt says what happens');
    void d.accept(head);
  });
  await page.locator('#merge-use-commit').focus();
  await page.keyboard.press('Enter');
  t.match(await page.locator('#merge-answer', { hasText: 'accepted' }).innerText(), /resolution of join-C accepted \(message /, 'the server\'s answer is shown');

  await waitTicket(node, 'T-ui', 'completed');
  await page.locator('#merge-summary .badge', { hasText: 'merged' }).waitFor();
  t.ok(await page.locator('#merge-resolve').isHidden(), 'a merged join offers no resolution any more');
  t.equal(await page.locator('#merge-summary .sha').last().getAttribute('title'), head, 'the join merged on the supplied commit');

  // The continuation ran on it: its own view shows the attempt that completed.
  await page.locator('#merge-summary a', { hasText: 'C' }).click();
  await page.locator('#task-title .badge', { hasText: 'completed' }).waitFor();
  t.match(await page.locator('#task-attempts tr[data-attempt="1"]').innerText(), /completed/);
  t.match(await page.locator('#task-fields').innerText(), /omoi-task\/T-ui\/C/, 'its branch');
  t.same(errors, [], 'no errors on the page');
  await page.close();
});

t.test('a running task\'s output grows on its page as the command prints, following the bottom unless the reader scrolled up', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omoi-ui-log-'));
  const [gate1, gate2] = [path.join(dir, 'go1'), path.join(dir, 'go2')];
  const wait = (f: string) => `while [ ! -f ${f} ]; do sleep 0.05; done`;
  await node.submit('ticket.create', {
    ticket_id: 'T-log', title: 'live log', repository: repo.dir, base_branch: 'main',
    tasks: [task('L', `i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo "first-$i"; done; ${wait(gate1)}; echo second-line; ${wait(gate2)}; echo third-line; sleep 0.3`, { timeout_ms: 120_000 })],
  });
  await waitTask(node, 'T-log', 'L', 'running');

  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
  await page.locator('.ticket-row[data-ticket="T-log"]').click();
  await page.locator('.task[data-task="L"] a', { hasText: 'L' }).click();
  t.equal(new URL(page.url()).hash, '#/tickets/T-log/tasks/L');
  const log = page.locator('#task-log');
  await page.locator('#task-log', { hasText: 'first-100' }).waitFor();
  t.match(await page.locator('#task-log-note').innerText(), new RegExp(`Attempt 1, from node ${node.config.nodeId}: following live`));
  t.match(await page.locator('#task-title .badge').textContent(), 'running');
  const position = () => log.evaluate((e) => ({ top: e.scrollTop, bottom: e.scrollHeight - e.clientHeight }));
  const first = await position();
  t.ok(first.bottom > 0 && first.top >= first.bottom - 8, 'a long log opens at its bottom');

  // Scrolled up to read: a new line does not move the view.
  await log.evaluate((e) => { e.scrollTop = 0; });
  writeFileSync(gate1, '');
  await page.locator('#task-log', { hasText: 'second-line' }).waitFor();
  t.equal((await position()).top, 0, 'the reader scrolled up: the view stays where they are');

  // Back at the bottom: it follows again.
  await log.evaluate((e) => { e.scrollTop = e.scrollHeight; });
  writeFileSync(gate2, '');
  await page.locator('#task-log', { hasText: 'third-line' }).waitFor();
  const last = await position();
  t.ok(last.top >= last.bottom - 8, 'at the bottom: it follows the new line');
  const expected = Array.from({ length: 100 }, (_, i) => `first-${i + 1}\n`).join('') + 'second-line\nthird-line\n';
  t.equal(await log.textContent(), expected, 'every line once, in order');
  await page.locator('#task-log-note', { hasText: 'the command ended' }).waitFor();
  await page.screenshot({ path: SCREENSHOTS.task, fullPage: true });
  await waitTicket(node, 'T-log', 'completed');
  t.same(errors, [], 'no errors on the page');
  await page.close();
});

t.test('an unknown merge attempt or task: its page says so', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message)); // the 404s themselves are console errors here
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
  await page.locator('.ticket-row').first().waitFor();
  await page.evaluate(`location.hash = '#/tickets/T-ui/joins/join-C/merges/9'`);
  t.match(await page.locator('#merge-status[role="alert"]').innerText(), /Merge attempt 9 of join-C: 404 not_found: merge attempt "T-ui\/join-C\/9" does not exist/);
  await page.evaluate(`location.hash = '#/tickets/T-ui/tasks/nope'`);
  t.match(await page.locator('#task-status[role="alert"]').innerText(), /Task nope of T-ui: 404 not_found/);
  t.same(pageErrors, [], 'no uncaught errors');
  await page.close();
});

t.test('a task\'s check and how it ended in each attempt', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  // Fails on attempt 1 (its output names the attempt), passes on attempt 2.
  const check = 'test "$OMOI_ATTEMPT" -ge 2 || { echo "too early: attempt $OMOI_ATTEMPT"; exit 3; }';
  await node.submit('ticket.create', {
    ticket_id: 'T-ui-check', title: 'check', repository: repo.dir, base_branch: 'main',
    tasks: [task('A', 'echo a > a.txt', { owns: ['a.txt'], check, acceptance: ['AC-1'] })],
  });
  await waitTicket(node, 'T-ui-check', 'completed');
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
  await page.evaluate(`location.hash = '#/tickets/T-ui-check/tasks/A'`);
  await page.locator('#task-attempts tr[data-attempt="2"]').waitFor();
  t.equal(await page.locator('#task-check').innerText(), check, 'the check is one of the task\'s fields');
  t.match(await page.locator('#task-fields').innerText(), /acceptance\s+AC-1/, 'with the acceptance criteria it verifies');
  const first = page.locator('#task-attempts tr[data-attempt="1"] td.check');
  t.match(await first.innerText(), /failed exit 3/, 'attempt 1: the check failed');
  await first.locator('summary').click();
  t.match(await first.locator('pre').innerText(), /too early: attempt 1/, 'its output, on demand');
  t.match(await page.locator('#task-attempts tr[data-attempt="2"] td.check').innerText(), /passed/, 'attempt 2: passed');
  t.same(errors, [], 'no errors on the page');
  await page.close();
});
