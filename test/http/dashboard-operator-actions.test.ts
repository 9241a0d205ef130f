// Retry a failed task, drain, undrain, shut down and remove agents from the dashboard, as a person would
// (a real node, real task processes, headless Chromium): each action asks first, the page shows
// the server's answer, and the node does what was asked.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { launchChromium } from '../harness/browser.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql, task, taskRows, ticketRow, waitTicket } from '../flow/helpers.ts';

const SCREENSHOT = '/tmp/omoi-dashboard-operator-actions.png';

t.test('retry a failed task from the page: the ticket completes; drain, undrain and remove agents from the page', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const local = `local-${node.config.nodeId}`;
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const flag = path.join(await tempDir(t, 'page-retry-'), 'ok');
  await node.submit('ticket.create', {
    ticket_id: 'T-page-retry', title: 'a task that needs a flag', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', `test -f ${flag}`, { max_retries: 0 }), task('B', 'echo b > b.txt', { depends_on: ['A'] })],
  });
  await waitFor('T-page-retry failed', async () => ((await ticketRow(node, 'T-page-retry'))?.status === 'failed' ? true : undefined));

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
  await page.locator('.ticket-row[data-ticket="T-page-retry"]').click();
  const cardA = page.locator('.task[data-task="A"][data-status="failed"]');
  await cardA.locator('button.retry-task').waitFor();
  t.equal(await page.locator('.task[data-task="B"] button.retry-task').count(), 0, 'a blocked task offers no retry');

  // Dismissing the question sends nothing.
  page.once('dialog', (d) => void d.dismiss());
  await cardA.locator('button.retry-task').click();
  await new Promise((r) => setTimeout(r, 500));
  t.equal((await taskRows(node, 'T-page-retry')).A!.status, 'failed', 'not confirmed: still failed');

  await writeFile(flag, '');
  page.once('dialog', (d) => {
    t.match(d.message(), /Retry task A of T-page-retry\? It failed; it runs again with its retries renewed/, 'the question says what happens');
    void d.accept('the flag is there now');
  });
  await cardA.locator('button.retry-task').click();
  t.match(await page.locator('#detail-answer', { hasText: 'accepted' }).innerText(), /retry of task A of T-page-retry accepted \(message /, "the server's answer is shown");
  await waitTicket(node, 'T-page-retry', 'completed');
  await page.locator('#detail-title .badge', { hasText: 'completed' }).waitFor();
  t.match((await taskRows(node, 'T-page-retry')).A, { status: 'completed', retried_by: 'http:admin', retry_reason: 'the flag is there now' }, 'who and why recorded');
  t.match(await page.locator('.task[data-task="A"] a.graph-link').getAttribute('aria-label'), /retried by http:admin: the flag is there now/, 'who retried it and why, on its node');
  t.equal(await page.locator('.task[data-task="A"] button.retry-task').count(), 0, 'a completed task offers no retry');

  // Drain the node's own agent, then undrain it.
  const row = page.locator(`tr[data-agent="${local}"]`);
  page.once('dialog', (d) => {
    t.match(d.message(), new RegExp(`Drain agent ${local}\\? It finishes the attempts it runs and is offered no new ones`));
    void d.accept('host maintenance');
  });
  await row.locator('button.agent-drain').click();
  await page.locator('#agents-answer', { hasText: `drain of agent ${local} accepted` }).waitFor();
  await waitFor('draining', async () => (await sql<any>(node, 'select draining from omoi_agent where id = ?', [local]))[0]?.draining || undefined);
  await page.locator(`tr[data-agent="${local}"][data-draining="true"] .badge.draining`).waitFor();
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  page.once('dialog', (d) => void d.accept(''));
  await page.locator(`tr[data-agent="${local}"] button.agent-undrain`).click();
  await page.locator('#agents-answer', { hasText: `undrain of agent ${local} accepted` }).waitFor();
  await page.locator(`tr[data-agent="${local}"][data-draining="false"] button.agent-drain`).waitFor();
  t.same(await sql(node, 'select draining from omoi_agent where id = ?', [local]), [{ draining: false }], 'undrained');

  // Remove a remote agent.
  await node.submit('agent.register', { agent_id: 'agent-page', name: 'page', phase: 'execute', capabilities: [], version: '1.0.0', kind: 'remote', capacity: 1 });
  await page.locator('tr[data-agent="agent-page"] button.agent-remove').waitFor();
  page.once('dialog', (d) => void d.accept('not needed'));
  await page.locator('tr[data-agent="agent-page"] button.agent-remove').click();
  await page.locator('#agents-answer', { hasText: 'remove of agent agent-page accepted' }).waitFor();
  const removed = await waitFor('agent-page removed', async () => (await sql<any>(node, `select status, reason from omoi_agent where id = 'agent-page'`)).find((r) => r.status === 'removed'));
  t.equal(removed.reason, 'not needed', 'removed, with the reason given');
  await page.locator('tr[data-agent="agent-page"] .badge', { hasText: 'removed' }).waitFor();

  const audited = await sql<{ command: string; principal: string }>(node, `select command, principal from omoi_audit where command in ('task.retry', 'agent.drain', 'agent.undrain', 'agent.deregister') and channel = 'http' order by id`);
  t.same(audited.map((r) => r.command), ['task.retry', 'agent.drain', 'agent.undrain', 'agent.deregister'], 'each action audited');
  t.same(problems, [], 'no errors in the page');
});

t.test('a join its merge blocked, from the page: a wrong commit is refused with the reason shown; the resolver re-run merges it', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const lines = (edit: string) => Array.from({ length: 20 }, (_, i) => (i === 9 ? edit : `line ${i + 1}`)).join('\n') + '\n';
  const repo = await makeRepo(t, { 'config.py': lines('line 10') });
  const ready = path.join(await tempDir(t, 'page-resolver-'), 'ready');
  const edit = (text: string) => `printf '%s\\n' ${Array.from({ length: 20 }, (_, i) => (i === 9 ? `'${text}'` : `'line ${i + 1}'`)).join(' ')} > config.py`;
  const resolver = `test -f ${ready} || exit 1; sed -i -e "/^<<<<<<<\\|^=======\\|^>>>>>>>/d" -e "s/^TIMEOUT = .*/TIMEOUT = 30/" config.py && awk "!seen[\\$0]++" config.py > c.tmp && mv c.tmp config.py`;
  await node.submit('ticket.create', {
    ticket_id: 'T-page-merge', title: 'conflict', repository: repo.dir, resolver_command: resolver,
    tasks: [
      task('A', edit('TIMEOUT = 10'), { owns: ['config.py'] }), task('B', edit('TIMEOUT = 20'), { owns: ['config.py'] }),
      task('C', 'grep -q "TIMEOUT = 30" config.py', { depends_on: ['A', 'B'] }),
    ],
  });
  await waitFor('C blocked', async () => ((await taskRows(node, 'T-page-merge')).C?.status === 'blocked' ? true : undefined));

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 400/.test(m.text())) problems.push(m.text()); });
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
  await page.locator('.ticket-row[data-ticket="T-page-merge"]').click();
  const join = page.locator('#joins tr[data-join="join-C"]');
  await join.locator('button.join-rerun-resolver').waitFor();

  page.once('dialog', (d) => {
    t.match(d.message(), /Resume join-C of T-page-merge on your merge commit\?/);
    void d.accept('not-a-sha');
  });
  await join.locator('button.join-use-commit').click();
  t.match(await page.locator('#detail-answer', { hasText: 'refused' }).innerText(), /resolution of join-C refused: 400 schema_violation: .*exactly one of `commit`.*\(field \/commit\)/, 'the refusal and its code are shown');

  await writeFile(ready, '');
  page.once('dialog', (d) => {
    t.match(d.message(), /Re-run the merge of join-C of T-page-merge\? A new attempt runs the ticket's resolver/);
    void d.accept();
  });
  await join.locator('button.join-rerun-resolver').click();
  await page.locator('#detail-answer', { hasText: 're-run of join-C accepted' }).waitFor();
  await waitTicket(node, 'T-page-merge', 'completed');
  await page.locator('#joins tr[data-join="join-C"] .badge', { hasText: 'merged' }).waitFor();
  t.equal(await page.locator('#joins tr[data-join="join-C"] button').count(), 0, 'a merged join offers nothing');
  t.same((await sql<any>(node, `select attempt, ok from omoi_merge_attempt where ticket_id = 'T-page-merge' order by attempt`)), [{ attempt: 1, ok: false }, { attempt: 2, ok: true }]);
  t.same(problems, [], 'no errors in the page');
});

t.test('an agent\'s page: drain it and shut it down, each asked first; the controls sent and their acknowledgement are listed', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  await node.submit('agent.register', { agent_id: 'agent-shut', name: 'to retire', phase: 'execute', capabilities: [], version: '1.0.0', kind: 'remote', capacity: 1 });
  await waitFor('agent-shut registered', async () => (await sql(node, `select 1 from omoi_agent where id = 'agent-shut'`)).length > 0 || undefined);

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(`${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}`);
  await page.goto(`${node.httpUrl}/#/agents/agent-shut`);
  await page.locator('#agent-controls-empty:not([hidden])').waitFor();

  page.once('dialog', (d) => {
    t.match(d.message(), /Drain agent \(it finishes what it runs and is offered nothing new\) agent-shut\?/);
    void d.accept('maintenance');
  });
  await page.locator('#agent-actions button.agent-drain').click();
  await page.locator('#agent-answer', { hasText: 'drain of agent agent-shut accepted' }).waitFor();
  // Nobody acknowledges for this agent: the drain waits for it, and says so.
  await page.locator('#agent-controls tr[data-kind="drain"][data-status="awaiting_ack"]', { hasText: 'awaiting ack' }).waitFor();
  await page.locator('#agent-title .badge.draining').waitFor();

  // Dismissing the question sends nothing.
  page.once('dialog', (d) => void d.dismiss());
  await page.locator('#agent-actions button.agent-shutdown').click();
  await new Promise((r) => setTimeout(r, 500));
  t.match((await sql<any>(node, `select status, shutting_down from omoi_agent where id = 'agent-shut'`))[0], { status: 'registered', shutting_down: false }, 'not confirmed: not shut down');

  page.once('dialog', (d) => {
    t.match(d.message(), /Shut down agent \(it is drained, told to shut down, and removed once its running attempts end\) agent-shut\?/, 'the question says what happens');
    void d.accept('host retired');
  });
  await page.locator('#agent-actions button.agent-shutdown').click();
  t.match(await page.locator('#agent-answer', { hasText: 'accepted' }).innerText(), /shutdown of agent agent-shut accepted \(message /, "the server's answer is shown");
  const gone = await waitFor('agent-shut removed', async () => (await sql<any>(node, `select status, reason from omoi_agent where id = 'agent-shut'`)).find((r) => r.status === 'removed'));
  t.equal(gone.reason, 'shutdown', 'running nothing, it is removed at once, reason shutdown');
  await page.locator('#agent-title .badge', { hasText: 'removed' }).waitFor();
  await page.locator('#agent-controls tr[data-kind="shutdown"]').waitFor();
  t.equal(await page.locator('#agent-actions button').count(), 0, 'a removed agent offers nothing');
  const audited = await sql<{ command: string }>(node, `select command from omoi_audit where command in ('agent.drain', 'agent.shutdown') and channel = 'http' order by id`);
  t.same(audited.map((r) => r.command), ['agent.drain', 'agent.shutdown'], 'each action audited');
  t.same(problems, [], 'no errors in the page');
});
