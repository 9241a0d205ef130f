// The ticket's DAG drawn as a graph (views/ticket-graph.js), in headless Chromium against a real
// node: a running DAG recoloured live from the event stream without a new layout; a 1 → 200 → 1
// ticket readable as one group node at phone width; nodes reached and opened from the keyboard;
// the layout library served by the node. Screenshots are kept in /tmp as the test's artifacts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ConsoleMessage, Page } from 'playwright-core';
import t from 'tap';
import { launchChromium } from '../harness/browser.ts';
import { makeRepo } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, task, waitTask, waitTicket } from '../flow/helpers.ts';
import { request, startTestNode, TOKEN } from './helpers.ts';
import { seedBlockedDiamond, seedEvent, seedFanOut } from './seed.ts';

const SCREENSHOTS = '/tmp/omoi-dashboard-graph';

// What the functions handed to page.evaluate see (the project compiles without the DOM's types).
declare const document: any;
declare const window: any;
declare const location: any;
declare function getComputedStyle(e: unknown): any;

/**
 * Every console error and uncaught exception of the page: the test fails on any. `noFeed`: the
 * test server (startTestNode) has no event feed; its 503 to the stream is what makes the page poll (and a task page
 * opened from the graph gets 503 for its log stream).
 */
function watchErrors(page: Page, opts: { noFeed?: boolean } = {}): string[] {
  const problems: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() !== 'error') return;
    // Without NATS the event stream and a task's log stream are unavailable (503): the page polls, the task page says so.
    if (opts.noFeed && m.text().includes('503') && /\/api\/events\/stream$|\/log\/stream\?/.test(m.location().url)) return;
    problems.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (err) => problems.push(err.message));
  return problems;
}

/** The page's width holds: nothing makes it scroll sideways. */
const pageOverflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

t.test('the node serves the layout library without a token, as script, under the page\'s policy', async (t) => {
  const node = await startTestNode(t);
  const res = await request(node.url, 'GET', '/vendor/elk.bundled.js', { token: null });
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /^text\/javascript/, 'served as JavaScript');
  t.match(res.headers['content-security-policy'], /default-src 'self'/, 'under the dashboard\'s policy');
  t.match(res.text, /g\.ELK = f\(\)/, 'the UMD bundle that defines ELK');
  const worker = await request(node.url, 'GET', '/vendor/elk-worker.min.js', { token: null });
  t.equal(worker.status, 200, 'and its worker script');
  t.match(worker.headers['content-type'], /^text\/javascript/);
  t.equal((await request(node.url, 'GET', '/vendor/elk-worker.js', { token: null })).status, 404, 'nothing else of node_modules');
});

t.test('a running DAG is recoloured live from the event stream, in place: no reload, no new layout', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const flags = await mkdtemp(path.join(os.tmpdir(), 'omoi-graph-'));
  t.teardown(() => rm(flags, { recursive: true, force: true }));
  // Each source waits for its flag file: the test says when it completes.
  const waitThen = (flag: string, file: string) => `while [ ! -e ${path.join(flags, flag)} ]; do sleep 0.1; done; echo ${flag} > ${file}`;
  await node.submit('ticket.create', {
    ticket_id: 'T-live', title: 'split and join', repository: repo.dir, ownership: 'lenient',
    tasks: [
      task('S', 'echo s > s.txt', { owns: ['s.txt'] }),
      task('A', waitThen('a', 'a.txt'), { depends_on: ['S'], owns: ['a.txt'], timeout_ms: 120_000 }),
      task('B', waitThen('b', 'b.txt'), { depends_on: ['S'], owns: ['b.txt'], timeout_ms: 120_000 }),
      task('J', 'test -f a.txt && test -f b.txt && echo j > j.txt', { depends_on: ['A', 'B'], owns: ['j.txt'] }),
    ],
  });
  await waitTask(node, 'T-live', 'A', 'running');
  await waitTask(node, 'T-live', 'B', 'running');

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems = watchErrors(page);
  const vendor: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/vendor/')) vendor.push(new URL(r.url()).pathname);
  });
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}&ticket=T-live`);
  await page.locator('#live-state', { hasText: 'live' }).waitFor();
  const nodeA = page.locator('svg.graph [data-task="A"]');
  await page.locator('svg.graph [data-task="A"][data-status="running"]').waitFor();
  t.same(vendor, ['/vendor/elk.bundled.js', '/vendor/elk-worker.min.js'], 'the library loaded once, the layout done in its worker');
  const join = page.locator('svg.graph [data-join="join-J"]');
  t.equal(await join.getAttribute('data-status'), 'collecting', 'the join is drawn as its own node, collecting');
  t.same(await join.locator('text').allTextContents(), ['join-J', '0/2 · collecting'], 'with collected/of and its state');
  t.same(await page.locator('svg.graph .graph-edge').evaluateAll((es) => es.map((e) => e.getAttribute('data-edge')).sort()),
    ['join:join-J->task:J', 'task:A->join:join-J', 'task:B->join:join-J', 'task:S->task:A', 'task:S->task:B'], 'edges: dependencies, and the sources through their join into the continuation');
  const stripeFill = () => nodeA.locator('.graph-stripe').evaluate((e) => getComputedStyle(e).fill);
  t.equal(await stripeFill(), 'rgb(31, 95, 191)', 'a running task in the running colour of the badges');
  t.ok(await nodeA.locator('.cancel-task').isVisible(), 'an open task offers cancel');

  // Marks on the drawn elements (and the window): a new layout or a reload would lose them.
  await page.evaluate(() => {
    for (const sel of ['svg.graph', 'svg.graph [data-task="A"]', 'svg.graph [data-join="join-J"]', 'svg.graph [data-task="J"]']) (document.querySelector(sel) as any).graphMark = sel;
    (window as any).pageMark = 'same page';
  });
  const marks = () => page.evaluate(() => [(window as any).pageMark, ...['svg.graph', 'svg.graph [data-task="A"]', 'svg.graph [data-join="join-J"]', 'svg.graph [data-task="J"]']
    .map((sel) => (document.querySelector(sel) as any)?.graphMark ?? null)]);
  const same = ['same page', 'svg.graph', 'svg.graph [data-task="A"]', 'svg.graph [data-join="join-J"]', 'svg.graph [data-task="J"]'];
  await page.screenshot({ path: `${SCREENSHOTS}-live-running.png`, fullPage: true });

  await writeFile(path.join(flags, 'a'), '');
  await page.locator('svg.graph [data-task="A"][data-status="completed"]').waitFor();
  t.equal(await stripeFill(), 'rgb(26, 127, 55)', 'recoloured: completed');
  t.equal(await nodeA.locator('.cancel-task').count(), 0, 'a completed task offers no cancel');
  await page.locator('svg.graph [data-join="join-J"]', { hasText: '1/2 · collecting' }).waitFor();
  t.same(await marks(), same, 'the same page and the same SVG elements: updated in place');

  await writeFile(path.join(flags, 'b'), '');
  await waitTicket(node, 'T-live', 'completed');
  await page.locator('svg.graph [data-join="join-J"][data-status="merged"]').waitFor();
  await page.locator('svg.graph [data-task="J"][data-status="completed"]').waitFor();
  t.match(await join.textContent(), /2\/2 · merged [0-9a-f]{7}/, 'the join shows its merge commit');
  const mergeCommit = (await sql<{ merge_commit: string }>(node, `select merge_commit from omoi_join where ticket_id = 'T-live'`))[0]!.merge_commit;
  t.match(await join.textContent(), mergeCommit.slice(0, 7), 'the one the node recorded');
  t.same(await marks(), same, 'still in place after the merge and the continuation');
  const critical = await page.locator('svg.graph .graph-edge.critical').evaluateAll((es) => es.map((e) => e.getAttribute('data-edge')));
  t.ok(critical.includes('join:join-J->task:J') && critical.some((e) => /^task:S->task:[AB]$/.test(e!)), `the critical path runs S → A or B → join → J (${critical.join(', ')})`);
  t.ok(await page.locator('svg.graph [data-task="J"].critical').count(), 'the continuation is outlined on it');
  await page.screenshot({ path: `${SCREENSHOTS}-live-merged.png`, fullPage: true });
  await page.locator('#dag').screenshot({ path: `${SCREENSHOTS}-live-merged-graph.png` });
  t.same(problems, [], 'no console errors');
});

t.test('a 1 → 200 → 1 ticket at phone width: one group node with its counts, opened and closed, updated in place', async (t) => {
  const node = await startTestNode(t);
  await seedFanOut(node.db, 'T-fan', { fan: 200, completed: 150, running: 30 });
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 375, height: 800 }, isMobile: true, hasTouch: true });
  const problems = watchErrors(page, { noFeed: true });
  await page.goto(`${node.url}/#token=${encodeURIComponent(TOKEN)}&ticket=T-fan`);

  const group = page.locator('svg.graph [data-group]');
  await group.waitFor();
  t.equal(await group.count(), 1, 'one group node');
  t.equal(await group.getAttribute('data-count'), '200');
  t.equal(await group.locator('[data-counts]').getAttribute('data-counts'), '20 pending, 30 running, 150 completed', 'its members counted by status');
  t.match(await group.textContent(), /200 tasks ▸ expand/);
  t.same(await page.locator('svg.graph [data-task]').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-task'))), ['A', 'J'], 'the members are not drawn one by one');
  t.match(await page.locator('svg.graph [data-join="join-J"]').textContent(), /150\/200 · collecting/, 'the join counts its sources');
  t.same(await page.locator('svg.graph .graph-edge').evaluateAll((es) => es.map((e) => e.getAttribute('data-edge')).sort()),
    ['group:A>join-J->join:join-J', 'join:join-J->task:J', 'task:A->group:A>join-J'], 'edges to and from the group, once each');
  t.ok(await pageOverflow(page) <= 0, 'the page does not scroll sideways at 375 px');
  // The Joins table lists the 200 sources behind a summary too (the page stays short), and they open on demand.
  const sourceList = page.locator('#joins tr[data-join="join-J"] details.source-list');
  t.match(await sourceList.locator('summary').innerText(), /^50 waiting; all 200 sources$/, 'the join row sums its sources up');
  t.equal(await sourceList.locator('.source').first().isVisible(), false, 'the list is closed');
  await sourceList.locator('summary').click();
  t.equal(await sourceList.locator('.source').count(), 200, 'opened: every source, marked collected or waiting');
  t.equal(await sourceList.locator('.source.waiting').count(), 50);
  await sourceList.locator('summary').click();
  await page.screenshot({ path: `${SCREENSHOTS}-fan-phone.png`, fullPage: true });
  await page.locator('#dag').screenshot({ path: `${SCREENSHOTS}-fan-phone-graph.png` });
  const svgWidth = () => page.locator('svg.graph').evaluate((e) => Number(e.getAttribute('width')));
  const before = await svgWidth();
  await page.locator('.graph-zoom-in').click();
  t.ok(Math.abs((await svgWidth()) - before * 1.25) <= 2, 'zoomed in inside its box');
  t.ok(await pageOverflow(page) <= 0, 'the page still does not scroll sideways');
  await page.locator('.graph-zoom-fit').click();

  // Opened with the keyboard: every member inside the group, then closed again.
  await group.locator('.graph-toggle').focus();
  await page.keyboard.press('Enter');
  await page.locator('svg.graph [data-group][data-expanded="true"]').waitFor();
  const members = page.locator('svg.graph [data-group] [data-task]');
  t.equal(await members.count(), 200, 'opened: its 200 members');
  const statuses = await members.evaluateAll((ns) => ns.map((n) => n.getAttribute('data-status')));
  t.same([statuses.filter((s) => s === 'completed').length, statuses.filter((s) => s === 'running').length, statuses.filter((s) => s === 'pending').length], [150, 30, 20], 'each with its status');
  t.equal(await page.locator('svg.graph [data-task="F200"][data-status="pending"]').count(), 1, 'each findable');
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-key')), 'group:A>join-J', 'the focus stays on the group');
  t.ok(await pageOverflow(page) <= 0, 'still no sideways scroll, 200 tasks drawn');
  await page.locator('#dag').screenshot({ path: `${SCREENSHOTS}-fan-open-graph.png` });
  await page.keyboard.press('Enter');
  await page.locator('svg.graph [data-group][data-expanded="false"]').waitFor();
  t.equal(await page.locator('svg.graph [data-task]').count(), 2, 'closed again');

  // The usual live update: statuses only. The group's counts change; nothing is laid out again.
  await page.evaluate(() => { (document.querySelector('svg.graph [data-group]') as any).graphMark = 'group'; });
  await node.db.em().getConnection().execute(`update omoi_task set status = 'completed', updated_at = now() where ticket_id = 'T-fan' and status = 'running'`);
  await seedEvent(node.db, 'fan-progress', 'T-fan', 'task.status');
  await page.locator('svg.graph [data-counts="20 pending, 180 completed"]').waitFor();
  t.equal(await page.evaluate(() => (document.querySelector('svg.graph [data-group]') as any).graphMark), 'group', 'the same group element, recounted');
  t.same(problems, [], 'no console errors');
});

t.test('keyboard: Tab reaches a node, Enter opens its task page; a blocked join stands out', async (t) => {
  const node = await startTestNode(t);
  await seedBlockedDiamond(node.db, 'T-diamond');
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = watchErrors(page, { noFeed: true });
  await page.goto(`${node.url}/#token=${encodeURIComponent(TOKEN)}&ticket=T-diamond`);
  await page.locator('svg.graph [data-task="A"]').waitFor();
  const join = page.locator('svg.graph [data-join="join-D"]');
  t.equal(await join.getAttribute('data-status'), 'blocked');
  t.same(await join.locator('text').allTextContents(), ['⚠ join-D', '2/2 · blocked: merge_conflict'], 'the blocked join says so, with its reason');
  t.equal(await join.locator('.graph-shape').evaluate((e) => getComputedStyle(e).strokeWidth), '3.5px', 'drawn heavier than the rest');
  t.match(await page.locator('svg.graph [data-task="D"]').textContent(), /⚠ merge_conflict/, 'the blocked task shows why');

  await page.locator('#dag').screenshot({ path: `${SCREENSHOTS}-diamond-graph.png` });
  // From the button before the drawing, Tab goes to the first node.
  await page.locator('.graph-zoom-fit').focus();
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.closest('[data-task]')?.getAttribute('data-task')), 'A', 'Tab reaches the first task');
  t.match(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), /^task A, completed/, 'which says what it is');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => location.hash === '#/tickets/T-diamond/tasks/A');
  t.pass('Enter opens the task\'s page');
  await page.goBack();
  await page.locator('svg.graph [data-task="D"]').waitFor();
  await page.locator('svg.graph [data-task="D"] .graph-link').focus();
  await page.keyboard.press(' ');
  await page.waitForFunction(() => location.hash === '#/tickets/T-diamond/tasks/D');
  t.pass('and so does Space');

  // A new task is a new structure: laid out again, with the new node and its edge.
  await page.goBack();
  await page.locator('svg.graph [data-task="E"]').waitFor();
  await page.evaluate(() => { document.querySelector('svg.graph').graphMark = 'old layout'; });
  await node.db.em().getConnection().execute(`insert into omoi_task (ticket_id, id, spec, depends_on, owns, status, attempt, created_at, updated_at)
    values ('T-diamond', 'F', '{"id":"F","title":"task F","run":"make F"}', '["E"]', '[]', 'pending', 0, now(), now())`);
  await seedEvent(node.db, 'diamond-grows', 'T-diamond', 'task.added');
  await page.locator('svg.graph [data-task="F"][data-status="pending"]').waitFor();
  t.equal(await page.evaluate(() => document.querySelector('svg.graph').graphMark ?? null), null, 'a new drawing');
  t.equal(await page.locator('svg.graph [data-edge="task:E->task:F"]').count(), 1, 'with the new edge');
  t.same(problems, [], 'no console errors');
});

t.test('without the layout library the tasks are shown by dependency depth, with the error said', async (t) => {
  const node = await startTestNode(t);
  await seedBlockedDiamond(node.db, 'T-diamond');
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = watchErrors(page, { noFeed: true });
  let answer: () => void = () => {};
  const answered = new Promise<void>((resolve) => { answer = resolve; });
  await page.route('**/vendor/elk.bundled.js', async (route) => {
    await answered;
    await route.fulfill({ status: 503, body: 'gone' });
  });
  await page.goto(`${node.url}/#token=${encodeURIComponent(TOKEN)}&ticket=T-diamond`);
  await page.locator('#dag .graph-status', { hasText: 'Laying out 5 tasks…' }).waitFor();
  t.pass('while the library loads, the panel says so');
  answer();
  await page.locator('#dag .graph-error').waitFor();
  t.ok(await page.locator('#dag .graph-status').isHidden(), 'and stops saying it');
  t.match(await page.locator('#dag .graph-error').innerText(), /The graph could not be drawn \(the layout library .* could not be loaded\)/);
  const levels = await page.locator('#dag .level').evaluateAll((ls) => ls.map((l) => Array.from(l.querySelectorAll('.task') as ArrayLike<any>).map((c) => c.getAttribute('data-task')).join(',')));
  t.same(levels, ['A', 'B,C', 'D', 'E'], 'the task cards by depth instead');
  t.equal(await page.locator('#dag .task[data-task="E"] .cancel-task').count(), 1, 'with their cancel buttons');
  t.same(problems.filter((p) => !/elk\.bundled\.js/.test(p)), [], 'no console errors but the failed load');
});

t.test('when the layout worker cannot start, the page lays the graph out itself', async (t) => {
  const node = await startTestNode(t);
  await seedBlockedDiamond(node.db, 'T-diamond');
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = watchErrors(page, { noFeed: true });
  await page.route('**/vendor/elk-worker.min.js', (route) => route.fulfill({ status: 503, body: 'gone' }));
  await page.goto(`${node.url}/#token=${encodeURIComponent(TOKEN)}&ticket=T-diamond`);
  await page.locator('svg.graph [data-task="E"][data-status="pending"]').waitFor();
  t.equal(await page.locator('svg.graph .graph-edge').count(), 6, 'every edge drawn');
  t.ok(await page.locator('#dag .graph-error').isHidden(), 'no error shown');
  t.same(problems.filter((p) => !/elk-worker\.min\.js/.test(p)), [], 'no console errors but the failed worker');
});
