// Issue 10's "done when", as a person would live it on one real node (NATS, PostgreSQL, git, a
// browser), never touching Omoi's CLI: open the dashboard while the demo runs (its config.py
// conflict left to a person), watch its DAG split, join and merge as a graph that updates in
// place, resolve the conflict from the merge attempt's page with a commit made in git, see the
// continuation run and the ticket complete; then cancel a runaway task from its node in the
// graph and see its process gone at once.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { runDemo } from '../../src/demo/index.ts';
import { launchChromium } from '../harness/browser.ts';
import { git, makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { cloneOf, task, waitTask, waitTicket } from './helpers.ts';

const alive = (tag: string) => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === tag);
const SHOTS = '/tmp/omoi-walkthrough';

t.test('the demo from the dashboard: watch the graph, resolve the conflict, cancel a runaway', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${m.text()} (${m.location().url})`); });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('dialog', (d) => void d.accept(dialogAnswers.shift() ?? ''));
  const dialogAnswers: string[] = [];

  // 1. The dashboard is open before the demo starts; the demo's ticket appears and is drawn.
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
  await page.locator('#tickets-empty').waitFor();
  const sample = path.join(await tempDir(t, 'walkthrough-'), 'sample');
  const demo = runDemo(node, { write: () => undefined, resolverCommand: null, sampleRepoDir: sample });
  const row = page.locator('.ticket-row').first();
  await row.waitFor({ timeout: 60_000 });
  await row.click();
  const graph = page.locator('svg.graph');
  await graph.waitFor({ timeout: 60_000 });
  await page.evaluate('document.querySelector("svg.graph").walkthroughMark = true');

  // 2. It splits, joins and merges before our eyes: join-D merges, join-G blocks on config.py.
  await page.locator('[data-join="join-D"][data-status="merged"]').waitFor({ timeout: 120_000 });
  await page.locator('[data-join="join-G"][data-status="blocked"]').waitFor({ timeout: 120_000 });
  const outcome = await demo;
  t.equal(outcome.status, 'blocked', 'the demo stops at the merge a person must resolve');
  const expected = JSON.stringify({ A: 'completed', B: 'completed', C: 'completed', D: 'completed', E: 'completed', F: 'completed', G: 'blocked', H: 'completed' });
  const statuses = () => page.locator('svg.graph [data-task]').evaluateAll((gs) => JSON.stringify(Object.fromEntries(gs.map((g) => [g.getAttribute('data-task'), g.getAttribute('data-status')]).sort())));
  await waitFor('the graph shows where the demo stopped', async () => ((await statuses()) === expected ? true : undefined), { timeoutMs: 30_000 }).catch(() => undefined);
  t.equal(await statuses(), expected, 'every task on the graph with its status');
  t.equal(await page.evaluate('document.querySelector("svg.graph").walkthroughMark ?? null'), true, 'the graph updated in place: the same drawing');
  t.ok(await page.locator('svg.graph [data-edge]').count() >= 10, 'dependencies drawn as edges');
  await page.screenshot({ path: `${SHOTS}-blocked.png`, fullPage: true });

  // 3. The blocked join opens its merge attempt: the conflicted file with its hunk.
  await page.locator('[data-join="join-G"] a.graph-link').click();
  await page.locator('#merge-use-commit').waitFor();
  t.match(await page.locator('#view').innerText(), /config\.py[\s\S]*<<<<<<<[\s\S]*=======[\s\S]*>>>>>>>/, 'the conflict hunk is shown');

  // A person resolves it in git (a clone of Omoi's clone of the ticket), keeping both features,
  // and pushes the commit to the ticket's repository.
  const work = await tempDir(t, 'person-');
  await git(work, 'clone', '--quiet', cloneOf(node, outcome.ticketId), '.');
  await git(work, 'config', 'user.name', 'Person');
  await git(work, 'config', 'user.email', 'person@example.com');
  await git(work, 'checkout', '--quiet', '-b', 'resolution', `origin/omoi-task/${outcome.ticketId}/E`);
  await git(work, 'merge', '--quiet', `origin/omoi-task/${outcome.ticketId}/F`).catch(() => undefined); // conflicts, as in Omoi's merge
  const config = execFileSync('git', ['show', `origin/omoi-task/${outcome.ticketId}/E:config.py`], { cwd: work, encoding: 'utf8' })
    .replace('ENABLED_FEATURES = ["core", "export"]', 'ENABLED_FEATURES = ["core", "export", "search"]');
  await writeFile(path.join(work, 'config.py'), config);
  await git(work, 'commit', '--quiet', '-am', 'keep both features');
  await git(work, 'push', '--quiet', sample, 'resolution');
  const resolution = await git(work, 'rev-parse', 'HEAD');

  dialogAnswers.push('no'); // the first dialog: the confirmation is a prompt for the sha; a wrong one is refused
  await page.locator('#merge-use-commit').click();
  await page.locator('#merge-answer', { hasText: 'refused' }).waitFor();
  dialogAnswers.push(resolution);
  await page.locator('#merge-use-commit').click();
  t.match(await page.locator('#merge-answer', { hasText: 'accepted' }).innerText(), /resolution of join-G accepted \(message /, 'the server\'s answer is shown');

  // 4. The continuation runs on it and the ticket completes; the graph shows it.
  await waitTicket(node, outcome.ticketId, 'completed', 120_000);
  await page.goto(`${node.httpUrl}/#/tickets/${encodeURIComponent(outcome.ticketId)}`);
  await page.locator('[data-task="G"][data-status="completed"]').waitFor({ timeout: 30_000 });
  await page.locator('[data-join="join-G"][data-status="merged"]').waitFor();
  await page.locator('#detail-title .badge', { hasText: 'completed' }).waitFor();
  await page.screenshot({ path: `${SHOTS}-completed.png`, fullPage: true });

  // 5. A runaway task, cancelled from its node in the graph: its process tree is gone at once.
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const tag = `sleep ${800 + (process.pid % 1000)}.${Date.now() % 1000}`;
  await node.submit('ticket.create', { ticket_id: 'T-runaway', title: 'runaway', repository: repo.dir, tasks: [task('A', `sh -c '${tag}' & wait`, { timeout_ms: 600_000 })] });
  await waitFor('the runaway command runs', () => alive(tag) || undefined, { timeoutMs: 60_000 });
  await page.locator('.ticket-row[data-ticket="T-runaway"]').click();
  const cancel = page.locator('[data-task="A"][data-status="running"] .cancel-task');
  await cancel.waitFor({ timeout: 30_000 });
  dialogAnswers.push('runaway');
  await cancel.click();
  await page.locator('#detail-answer', { hasText: 'accepted' }).waitFor();
  await waitFor('its process tree is gone', () => !alive(tag) || undefined, { timeoutMs: 5_000 });
  await waitTask(node, 'T-runaway', 'A', 'cancelled');
  await page.locator('[data-task="A"][data-status="cancelled"]').waitFor({ timeout: 30_000 });
  t.same(problems.filter((p) => !/status of 400 .*\/resolve\b/.test(p)), [], 'no errors in the page (but the refused resolution\'s 400)');
});
