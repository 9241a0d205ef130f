// The spec pages (views/specs.js, views/spec.js) in headless Chromium against a real node and the
// deterministic planner: a spec watched from its page moving through the phases to COMPLETE
// (the same document, no reload), its work ticket linked; a TASKS cycle shown blocked with the
// cycle named; Replan from DESIGN from the page; Approve at a gate shows the server's answer; the
// list shows them all; 375 px and the keyboard. Screenshots: /tmp/omoi-spec-*.png.
import type { Page } from 'playwright-core';
import t from 'tap';
import { demoPlannerCommand } from '../../src/demo/index.ts';
import { launchChromium } from '../harness/browser.ts';
import path from 'node:path';
import { git, makeRepo, tempDir } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql } from '../flow/helpers.ts';

// What the functions handed to page.evaluate see (the project compiles without the DOM's types).
declare const document: any;
declare const window: any;

const SHOTS = '/tmp/omoi-spec';
const LONG = { timeout: 120_000 };

const cluster = await withCluster(t);
const node = await withNode(t, cluster);
const browser = await launchChromium(t);
const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const problems: string[] = [];
page.on('pageerror', (e) => problems.push(e.message));
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  const url = m.location().url;
  // Expected 404: a spec's page opened before the spec exists.
  if (/status of 404/.test(m.text()) && /\/api\/specs\/[^/]+$/.test(url)) return;
  problems.push(`${m.text()} (${url})`);
});

function create(id: string, repository: string, goal: string, more: Record<string, unknown> = {}) {
  return node.submit('spec.create', { spec_id: id, repository, base_branch: 'main', goal, planner: 'command', planner_command: demoPlannerCommand(), ...more });
}
const open = (hash: string) => page.evaluate((h: string) => { window.location.hash = h; }, hash);
const PHASES = ['EXPLORE', 'REQUIREMENTS', 'DESIGN', 'TASKS', 'SYNC', 'EXECUTE', 'COMPLETE'];

// SD1's repository outlives its first test: the replan plans it again.
const sd1Repo = await makeRepo(t, { 'README.md': 'shop\n', 'src/app.py': 'print("hi")\n' });

await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
await page.locator('#board').waitFor();

t.test('a spec watched from its page moves through the phases live to COMPLETE, its work ticket linked', async (t) => {
  await open('#/specs/SD1');
  t.match(await page.locator('#spec-error', { hasText: '404' }).innerText(), /Spec SD1: 404 not_found/, 'before it exists: the page says so');
  // Every phase the page shows, in order, in this one document.
  await page.evaluate(() => {
    window.__sameDocument = true;
    window.__phases = [];
    new window.MutationObserver(() => {
      const body = document.querySelector('#spec-body');
      const phase = body && !body.hidden ? body.dataset.phase : null;
      if (phase && window.__phases[window.__phases.length - 1] !== phase) window.__phases.push(phase);
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  await create('SD1', sd1Repo.dir, 'Write the goal down');
  await page.locator('#spec-body[data-status="completed"]').waitFor(LONG);
  t.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  const seen: string[] = await page.evaluate(() => window.__phases);
  t.ok(seen.length >= 3, `several phases shown as they came: ${seen.join(', ')}`);
  t.equal(seen[seen.length - 1], 'COMPLETE');
  t.ok(seen.some((p) => ['EXPLORE', 'REQUIREMENTS', 'DESIGN', 'TASKS'].includes(p)), 'a planning phase was shown while it ran');
  t.same([...seen].sort((a, b) => PHASES.indexOf(a) - PHASES.indexOf(b)), seen, 'in the pipeline\'s order');
  t.same(await page.locator('#spec-stepper li').evaluateAll((lis: any[]) => lis.map((li) => `${li.dataset.phase}:${li.dataset.state}`)),
    PHASES.map((p) => `${p}:done`), 'every step done');
  t.equal(await page.locator('#spec-error').isHidden(), true, 'the error is gone');

  const work = page.locator('#spec-work-ticket');
  t.equal(await work.locator('a').getAttribute('href'), '#/tickets/spec-SD1-exec-v1', 'the work ticket is linked');
  t.match(await work.innerText(), /spec-SD1-exec-v1\s+completed/);
  t.match(await page.locator('#spec-goal').innerText(), 'Write the goal down');
  for (const phase of ['EXPLORE', 'REQUIREMENTS', 'DESIGN', 'TASKS']) {
    const run = page.locator(`#spec-phase-${phase} .spec-run[data-run="spec-SD1-${phase.toLowerCase()}-v1"]`);
    t.equal(await run.getAttribute('data-verdict'), 'passed', `${phase} v1 passed its gate`);
    t.equal(await run.locator('a').first().getAttribute('href'), `#/tickets/spec-SD1-${phase.toLowerCase()}-v1`, `${phase}'s ticket linked`);
  }
  t.match(await page.locator('#spec-phase-EXPLORE .artifact-findings').innerText(), /top-level entries: README\.md, src/);
  const req = page.locator('#spec-phase-REQUIREMENTS li[data-requirement="REQ-1"]');
  t.match(await req.innerText(), /REQ-1 the goal is written down/);
  t.same(await req.locator('.acceptance strong.ears').allInnerTexts(), ['WHEN', 'THE SYSTEM SHALL'], 'the EARS criterion set out');
  t.match(await page.locator('#spec-phase-DESIGN .design-summary').innerText(), /Two files/);
  t.same(await page.locator('#spec-phase-TASKS table.spec-tasks tbody tr').evaluateAll((rows: any[]) => rows.map((r) => r.innerText.split('\t').slice(0, 4).join('|'))),
    ['A|write the goal||GOAL.md', 'B|record the plan|A|notes/**'], 'the tasks with depends_on and owns');
  await page.locator('#spec-tasks-graph svg.graph [data-task="B"]').waitFor();
  t.equal(await page.locator('#spec-tasks-graph [data-task="A"]').getAttribute('data-status'), 'planned', 'the DAG drawn with the graph component');
  await page.screenshot({ path: `${SHOTS}-completed.png`, fullPage: true });
});

t.test('a spec with a delivery shows where its branch goes, then that it was pushed and at which commit', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  const origin = path.join(await tempDir(t, 'spec-ui-origin'), 'origin.git');
  await git(path.dirname(origin), 'init', '--quiet', '--bare', origin);
  await open('#/specs/SD-push');
  await create('SD-push', repo.dir, 'Write the goal down', { delivery: { remote: origin, branch: 'feature/goal' } });
  const delivery = page.locator('#spec-delivery');
  await delivery.waitFor(LONG);
  t.match(await delivery.innerText(), new RegExp(`feature/goal → ${origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'where it goes, before it is pushed');
  await page.locator('#spec-delivery .badge', { hasText: 'delivered' }).waitFor(LONG);
  const pushed = await git(origin, 'rev-parse', 'refs/heads/feature/goal');
  t.match(await delivery.innerText(), new RegExp(`@ ${pushed.slice(0, 7)}`), 'the commit pushed, as the origin has it');
  await page.screenshot({ path: `${SHOTS}-delivery.png`, fullPage: true });
});

t.test('a spec whose TASKS DAG has a cycle shows blocked, with the cycle named in the findings', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  await create('SD2', repo.dir, 'Write the goal down [cycle]', { max_phase_attempts: 2 });
  await open('#/specs/SD2');
  await page.locator('#spec-body[data-status="blocked"]').waitFor(LONG);
  t.match(await page.locator('#spec-reason').innerText(), /Blocked in TASKS: TASKS gate not met after 2 runs: cycle/);
  t.equal(await page.locator('#spec-stepper li[data-phase="TASKS"]').getAttribute('data-state'), 'blocked');
  t.equal(await page.locator('#spec-stepper li[data-phase="TASKS"]').getAttribute('aria-current'), 'step');
  const runs = page.locator('#spec-phase-TASKS .spec-run');
  t.same(await runs.evaluateAll((rs: any[]) => rs.map((r) => `${r.dataset.version}:${r.dataset.verdict}`)), ['2:not_met', '1:not_met'], 'both runs, newest first');
  t.match(await runs.first().locator('.finding[data-code="cycle"]').innerText(), /cycle: .*(A → B → A|B → A → B)/, 'the cycle named');
  t.equal(await page.locator('#spec-cancel').isVisible(), true, 'a blocked spec can be cancelled');
  await page.screenshot({ path: `${SHOTS}-blocked.png`, fullPage: true });
});

t.test('Replan from DESIGN from the page starts a new run and a second work ticket', async (t) => {
  await open('#/specs/SD1');
  await page.locator('#spec-body[data-status="completed"]').waitFor();
  await page.locator('#spec-replan-phase').selectOption('DESIGN');
  page.once('dialog', (d) => void d.dismiss());
  await page.locator('#spec-replan').click();
  await new Promise((r) => setTimeout(r, 300));
  t.same(await sql(node, `select id from omoi_ticket where id = 'spec-SD1-design-v2'`), [], 'not confirmed: nothing sent');
  page.once('dialog', (d) => {
    t.match(d.message(), /Plan SD1 again from DESIGN\? DESIGN runs again/);
    void d.accept('name the files differently');
  });
  await page.locator('#spec-replan').click();
  t.match(await page.locator('#spec-answer', { hasText: 'accepted' }).innerText(), /replan of SD1 from DESIGN accepted \(message /, "the server's answer");
  await page.locator('#spec-phase-DESIGN .spec-run[data-run="spec-SD1-design-v2"]').waitFor(LONG);
  await page.locator('#spec-work-ticket a[href="#/tickets/spec-SD1-exec-v2"]').waitFor(LONG);
  await page.locator('#spec-body[data-status="completed"]').waitFor(LONG);
  t.same(await page.locator('#spec-phase-DESIGN .spec-run').evaluateAll((rs: any[]) => rs.map((r) => `${r.dataset.version}:${r.dataset.verdict}`)), ['2:passed', '1:passed']);
  t.equal(await page.locator('#spec-phase-EXPLORE .spec-run').count(), 1, 'the phases before DESIGN did not run again');
  const design = await sql<{ spec: any }>(node, `select spec from omoi_task where ticket_id = 'spec-SD1-design-v2'`);
  t.match(design[0]!.spec.run, /name the files differently/, 'the reason reached the planner');
  // The older run's artifact is behind a toggle.
  await page.locator('#spec-phase-DESIGN .spec-run[data-version="1"] summary').click();
  t.match(await page.locator('#spec-phase-DESIGN .spec-run[data-version="1"] .design-summary').innerText(), /Two files/);
});

t.test('a spec waiting for approval offers Approve / Reject; the answer is the server\'s', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  await create('SD3', repo.dir, 'Write the goal down', { approvals: ['EXPLORE'] });
  await open('#/specs/SD3');
  await page.locator('#spec-body[data-status="awaiting_approval"]').waitFor(LONG);
  t.equal(await page.locator('#spec-stepper li[data-phase="EXPLORE"]').getAttribute('data-state'), 'awaiting_approval');
  t.match(await page.locator('#spec-gate').innerText(), /EXPLORE passed its gate and waits for a person/);
  t.equal(await page.locator('#spec-reject').isVisible(), true);
  page.once('dialog', (d) => {
    t.match(d.message(), /Approve EXPLORE of SD3\?/);
    void d.accept('looks right');
  });
  await page.locator('#spec-approve').click();
  t.match(await page.locator('#spec-answer', { hasText: /accepted|refused/ }).innerText(), /^approval of SD3 accepted \(message /, "the server's answer");
  // The spec goes on, live, and the decision is shown with who made it.
  await page.locator('#spec-stepper li[data-phase="EXPLORE"][data-state="done"]').waitFor(LONG);
  t.match(await page.locator('li.approval.approved').innerText(), /^EXPLORE: approved by .+ at .+ — looks right$/, 'the decision, who and the comment');
});

t.test('the list shows every spec with its status and phase; a row opens its page from the keyboard', async (t) => {
  await open('#/specs');
  await page.locator('tr.spec-row[data-spec="SD3"]').waitFor();
  const rows = await page.locator('tr.spec-row').evaluateAll((rs: any[]) => Object.fromEntries(rs.map((r) => [r.dataset.spec, r.dataset.status])));
  t.match(rows, { SD1: 'completed', SD2: 'blocked' }, 'both specs listed with their status');
  t.match(await page.locator('tr.spec-row[data-spec="SD2"]').innerText(), /SD2\s+Write the goal down \[cycle\]\s+blocked\s+TASKS/);
  t.equal(await page.locator('nav.views a[href="#/specs"]').getAttribute('aria-current'), 'page', 'linked from the header');
  await page.screenshot({ path: `${SHOTS}-list.png`, fullPage: true });
  await page.locator('tr.spec-row[data-spec="SD2"] a').focus();
  await page.keyboard.press('Enter');
  await page.locator('#spec-body[data-status="blocked"]').waitFor();
  t.equal(await page.evaluate(() => window.location.hash), '#/specs/SD2');
  // The actions are reached with Tab.
  await page.locator('#spec-replan-phase').focus();
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement.id), 'spec-replan');
});

t.test('readable at 375 px; no errors in the page', async (t) => {
  await page.setViewportSize({ width: 375, height: 800 });
  await open('#/specs/SD1');
  await page.locator('#spec-body[data-status="completed"]').waitFor();
  await page.locator('#spec-tasks-graph svg.graph').waitFor();
  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling of the page');
  await page.screenshot({ path: `${SHOTS}-375.png`, fullPage: true });
  t.same(problems, [], 'no console errors');
});
