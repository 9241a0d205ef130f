// Approve a ticket's gates from the dashboard, as a person would (a real node, real task
// processes, headless Chromium): the gate waiting shows with Approve / Reject, each asks for a
// comment, and the delivery shows its status and the pull request's link once pushed.
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { launchChromium } from '../harness/browser.ts';
import { git, makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, task, taskRows, ticketRow, waitTicket } from '../flow/helpers.ts';

t.test('approve before_execute and before_delivery from the ticket page; the pushed delivery shows its pull request link', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { pushRetryBaseMs: 100 });
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const dir = await tempDir(t, 'page-gates-');
  const origin = path.join(dir, 'origin.git');
  await git(dir, 'init', '--quiet', '--bare', origin);
  const script = path.join(dir, 'pr.sh');
  await writeFile(script, '#!/bin/sh\necho "https://git.example.com/app/pull/9"\n');
  await chmod(script, 0o755);
  await node.submit('ticket.create', {
    ticket_id: 'T-page-gates', title: 'gated twice', repository: repo.dir, ownership: 'lenient', approvals: ['before_execute', 'before_delivery'],
    tasks: [task('A', 'echo a > a.txt')], delivery: { remote: origin, pull_request_command: script },
  });
  await waitFor('awaiting approval', async () => ((await ticketRow(node, 'T-page-gates'))?.status === 'awaiting_approval' ? true : undefined));

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
  await page.locator('.ticket-row[data-ticket="T-page-gates"]').click();
  const gate = page.locator('#detail-gate .gate-waiting[data-gate="before_execute"]');
  await gate.waitFor();
  t.match(await gate.innerText(), /waits for approval before its tasks run/);
  t.match(await page.locator('#detail-title .badge').first().innerText(), /awaiting_approval/);

  // Dismissing the question sends nothing.
  page.once('dialog', (d) => void d.dismiss());
  await gate.locator('button.approve-gate').click();
  await new Promise((r) => setTimeout(r, 500));
  t.equal((await ticketRow(node, 'T-page-gates'))!.status, 'awaiting_approval', 'not confirmed: still waiting');
  t.match(await taskRows(node, 'T-page-gates'), { A: { status: 'pending' } });

  page.once('dialog', (d) => {
    t.match(d.message(), /Approve T-page-gates at before_execute\? Its tasks start\./, 'the question says what happens');
    void d.accept('ship it');
  });
  await gate.locator('button.approve-gate').click();
  t.match(await page.locator('#detail-answer', { hasText: 'accepted' }).innerText(), /approval of T-page-gates accepted \(message /, "the server's answer is shown");
  await waitTicket(node, 'T-page-gates', 'completed');

  const delivery = page.locator('#detail-gate .gate-waiting[data-gate="before_delivery"]');
  await delivery.waitFor();
  t.match(await page.locator('#detail-gate .approvals').innerText(), /before_execute: approved by admin at .* — ship it/, 'the decision, who and when, on the page');
  page.once('dialog', (d) => void d.accept(''));
  await delivery.locator('button.approve-gate').click();
  const link = page.locator('#detail-meta a.pull-request');
  await link.waitFor({ timeout: 60_000 });
  t.equal(await link.getAttribute('href'), 'https://git.example.com/app/pull/9', 'the pull request link');
  const row = await ticketRow(node, 'T-page-gates');
  t.match(row, { delivery_status: 'delivered', pull_request_url: 'https://git.example.com/app/pull/9' });
  t.equal(await git(origin, 'rev-parse', 'refs/heads/omoi/T-page-gates'), row!.head, 'pushed to the remote');
  await page.locator('#detail-meta .badge.status-delivered').waitFor();
  t.equal(await page.locator('#detail-gate .gate-waiting').count(), 0, 'no gate waits any more');
  t.match(await sql<any>(node, `select gate, decision, principal from omoi_approval where entity_id = 'T-page-gates' order by at`), [
    { gate: 'before_execute', decision: 'approved', principal: 'admin' }, { gate: 'before_delivery', decision: 'approved', principal: 'admin' },
  ]);
  t.same(problems, [], 'no errors in the page');
});
