// Human gates and delivery on a real node (NATS, PostgreSQL, git, real task processes): a
// completed ticket's branch is pushed to a bare "origin" (retried while the remote is missing,
// resumed by another node after a restart), a pull request command's URL is recorded, and
// tickets wait at `before_execute` / `before_delivery` until a person decides.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { git, makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { events, sql, task, taskRows, ticketRow, waitTicket } from './helpers.ts';

const FAST_PUSHES = { pushRetryBaseMs: 100, pushMaxAttempts: 4, pushTimeoutMs: 5_000 };
const cluster = await withCluster(t);
const node = await withNode(t, cluster, { localAgentCapacity: 2, ...FAST_PUSHES });

/** A bare repository standing for the team's origin. */
async function bareRemote(t: Parameters<typeof tempDir>[0], name = 'origin.git'): Promise<string> {
  const dir = path.join(await tempDir(t, 'remote-'), name);
  await git(path.dirname(dir), 'init', '--quiet', '--bare', dir);
  return dir;
}

/** The commit `branch` points at in `repo`, or undefined. */
async function branchAt(repo: string, branch: string): Promise<string | undefined> {
  return git(repo, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`).catch(() => undefined);
}

const waitDelivery = (ticket: string, status: string, timeoutMs = 60_000) => waitFor(`ticket ${ticket} delivery ${status}`, async () => {
  const row = await ticketRow(node, ticket);
  return row?.delivery_status === status ? row : undefined;
}, { timeoutMs });

const approvals = (ticket: string) => sql<any>(node, `select entity_kind, entity_id, gate, decision, comment, principal, at from omoi_approval where entity_id = ? order by at`, [ticket]);

t.test('a completed ticket is pushed to its bare origin at its head; the pull request command\'s URL is recorded', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const origin = await bareRemote(t);
  const script = path.join(await tempDir(t, 'pr-'), 'open-pr.sh');
  // Echoes its arguments where the test can see them, then a line with the URL.
  await writeFile(script, `#!/bin/sh\necho "args: $*" > ${script}.args\necho "Creating pull request for $1 into $2"\necho "https://git.example.com/app/pull/42."\n`);
  await chmod(script, 0o755);
  await node.submit('ticket.create', {
    ticket_id: 'T-push', title: "it's a title; rm -rf /", repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', 'echo a > a.txt')],
    delivery: { remote: origin, pull_request_command: `${script} {branch} {base_branch} {title}` },
  });
  const done = await waitDelivery('T-push', 'delivered');
  t.equal(done.status, 'completed', 'completed keeps its meaning');
  t.equal(await branchAt(origin, 'omoi/T-push'), done.head, 'the bare origin has omoi/T-push at the ticket head');
  t.match(done, { delivered_commit: done.head, pull_request_url: 'https://git.example.com/app/pull/42', delivery_attempts: 1, delivery_error: null });
  const args = await readFile(`${script}.args`, 'utf8');
  t.equal(args.trim(), "args: omoi/T-push main it's a title; rm -rf /", 'placeholders are shell-quoted words: the title is one argument, not a command');
  const types = (await events(node, 'T-push')).map((e) => e.type).filter((x) => x.startsWith('ticket.'));
  t.match(types, ['ticket.created', 'ticket.completed', 'ticket.delivering', 'ticket.delivered']);
  t.match((await events(node, 'T-push', 'ticket.delivered'))[0]!.payload, { commit: done.head, pull_request_url: 'https://git.example.com/app/pull/42' });

  // Only a failed delivery is tried again.
  const again = await node.submit('ticket.deliver', { ticket_id: 'T-push' });
  const refused = await waitFor('the refusal', async () => (await sql<any>(node, 'select code from omoi_dead_letter where message_id = ?', [again.id]))[0]);
  t.equal(refused.code, 'delivery_not_failed');
  t.equal((await ticketRow(node, 'T-push'))!.delivery_status, 'delivered', 'a retry of a delivered push changes nothing');
});

t.test('before_execute: nothing runs until approved; who and when are recorded', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T-gate', title: 'gated', repository: repo.dir, ownership: 'lenient', approvals: ['before_execute'],
    tasks: [task('A', 'echo a > a.txt')],
  });
  await waitFor('awaiting approval', async () => ((await ticketRow(node, 'T-gate'))?.status === 'awaiting_approval' ? true : undefined));
  await new Promise((r) => setTimeout(r, 1500)); // a few supervisor ticks: still nothing may run
  t.match(await taskRows(node, 'T-gate'), { A: { status: 'pending', attempt: 0 } }, 'its task did not start');
  t.match((await events(node, 'T-gate', 'ticket.awaiting_approval')).map((e) => e.payload), [{ gate: 'before_execute' }]);
  // A decision on the wrong gate is refused.
  const wrong = await node.submit('ticket.approve', { ticket_id: 'T-gate', gate: 'before_delivery' });
  const refused = await waitFor('refusal', async () => (await sql<any>(node, 'select code, reason from omoi_dead_letter where message_id = ?', [wrong.id]))[0]);
  t.equal(refused.code, 'gate_not_awaiting');
  await node.submit('ticket.approve', { ticket_id: 'T-gate', comment: 'go' }, { by: 'alice' });
  await waitTicket(node, 'T-gate', 'completed');
  t.match(await approvals('T-gate'), [{ entity_kind: 'ticket', gate: 'before_execute', decision: 'approved', comment: 'go', principal: 'alice' }]);
  const at = Date.parse((await approvals('T-gate'))[0].at);
  t.ok(Math.abs(Date.now() - at) < 120_000, 'when');
  t.match((await events(node, 'T-gate', 'ticket.approved')).map((e) => e.payload), [{ gate: 'before_execute', by: 'alice', comment: 'go' }]);
});

t.test('before_execute rejected: the ticket is cancelled with the comment', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T-no', title: 'rejected', repository: repo.dir, ownership: 'lenient', approvals: ['before_execute'],
    tasks: [task('A', 'echo a > a.txt'), task('B', 'true', { depends_on: ['A'] })],
  });
  await waitFor('awaiting approval', async () => ((await ticketRow(node, 'T-no'))?.status === 'awaiting_approval' ? true : undefined));
  await node.submit('ticket.reject', { ticket_id: 'T-no', comment: 'not this sprint' }, { by: 'bob' });
  const row = await waitTicket(node, 'T-no', 'cancelled');
  t.equal(row.reason, 'rejected: not this sprint');
  t.match(await taskRows(node, 'T-no'), { A: { status: 'cancelled', attempt: 0 }, B: { status: 'cancelled' } });
  t.match(await approvals('T-no'), [{ gate: 'before_execute', decision: 'rejected', comment: 'not this sprint', principal: 'bob' }]);
  t.match((await events(node, 'T-no', 'ticket.rejected_at_gate')).map((e) => e.payload), [{ gate: 'before_execute', by: 'bob', comment: 'not this sprint' }]);
});

t.test('before_delivery: the branch is pushed only once approved; a rejection can be approved later', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const origin = await bareRemote(t);
  await node.submit('ticket.create', {
    ticket_id: 'T-later', title: 'reviewed first', repository: repo.dir, ownership: 'lenient', approvals: ['before_delivery'],
    tasks: [task('A', 'echo a > a.txt')], delivery: { remote: origin, branch: 'feature/later' },
  });
  const done = await waitDelivery('T-later', 'awaiting_approval');
  t.equal(done.status, 'completed');
  t.equal(await branchAt(origin, 'feature/later'), undefined, 'nothing pushed yet');
  await node.submit('ticket.reject', { ticket_id: 'T-later', comment: 'check the changelog' }, { by: 'carol' });
  const rejected = await waitDelivery('T-later', 'rejected');
  t.equal(rejected.delivery_error, 'rejected: check the changelog');
  t.equal(await branchAt(origin, 'feature/later'), undefined, 'still nothing pushed');
  await node.submit('ticket.approve', { ticket_id: 'T-later', gate: 'before_delivery' }, { by: 'carol' });
  await waitDelivery('T-later', 'delivered');
  t.equal(await branchAt(origin, 'feature/later'), done.head, 'pushed after the approval');
  t.match(await approvals('T-later'), [{ decision: 'rejected' }, { decision: 'approved', principal: 'carol' }]);

  // A before_delivery gate with nothing to deliver is refused at creation.
  const nothing = await node.submit('ticket.create', {
    ticket_id: 'T-nothing', title: 'no delivery', repository: repo.dir, approvals: ['before_delivery'], tasks: [task('A', 'true')],
  });
  const refused = await waitFor('refusal', async () => (await sql<any>(node, 'select code from omoi_dead_letter where message_id = ?', [nothing.id]))[0]);
  t.equal(refused.code, 'delivery_required');
  t.equal(await ticketRow(node, 'T-nothing'), undefined, 'no ticket made');
});

t.test('a push to a remote that is not a repository yet is retried until it is, never lost', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const parent = await tempDir(t, 'late-remote-');
  const origin = path.join(parent, 'late.git');
  await node.submit('ticket.create', {
    ticket_id: 'T-late', title: 'remote made late', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', 'echo a > a.txt')], delivery: { remote: origin },
  });
  await waitFor('a failed attempt', async () => (await sql<any>(node, `select attempts, last_error_code from omoi_ticket_push where ticket_id = 'T-late' and attempts >= 1`))[0]);
  t.equal((await ticketRow(node, 'T-late'))!.delivery_status, 'pushing', 'still pushing between attempts');
  await git(parent, 'init', '--quiet', '--bare', origin);
  const row = await waitDelivery('T-late', 'delivered');
  t.ok(row.delivery_attempts >= 2, `delivered on a later attempt (${row.delivery_attempts})`);
  t.equal(await branchAt(origin, 'omoi/T-late'), row.head);
  const metrics = await (await fetch(`${node.httpUrl}/metrics`)).text();
  t.match(metrics, /^omoi_ticket_pushes_total\{outcome="retry"\} [1-9]/m, 'the failed attempts counted');
  t.match(metrics, /^omoi_ticket_pushes_total\{outcome="delivered"\} [1-9]/m);
});

t.test('a push that fails every attempt is failed with the error, and ticket.deliver tries again', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const parent = await tempDir(t, 'dead-remote-');
  const origin = path.join(parent, 'dead.git');
  await node.submit('ticket.create', {
    ticket_id: 'T-dead', title: 'remote missing', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', 'echo a > a.txt')], delivery: { remote: origin },
  });
  const failed = await waitDelivery('T-dead', 'failed');
  t.equal(failed.delivery_attempts, FAST_PUSHES.pushMaxAttempts);
  t.match(failed.delivery_error, /push_failed|cannot push/);
  t.match((await events(node, 'T-dead', 'ticket.delivery_failed')).map((e) => e.payload), [{ attempts: FAST_PUSHES.pushMaxAttempts }]);
  await git(parent, 'init', '--quiet', '--bare', origin);
  await node.submit('ticket.deliver', { ticket_id: 'T-dead' }, { by: 'dave' });
  const row = await waitDelivery('T-dead', 'delivered');
  t.equal(row.delivery_round, 2, 'a new round');
  t.equal(await branchAt(origin, 'omoi/T-dead'), row.head);
});

t.test('a node stopped while pushing: another node resumes the push', async (t) => {
  const cluster2 = await withCluster(t);
  const slow = { pushRetryBaseMs: 1_500, pushMaxAttempts: 50, pushTimeoutMs: 2_000 };
  const first = await withNode(t, cluster2, { localAgentCapacity: 1, ...slow });
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const parent = await tempDir(t, 'restart-remote-');
  const origin = path.join(parent, 'restart.git');
  await first.submit('ticket.create', {
    ticket_id: 'T-restart', title: 'pushed across a restart', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', 'echo a > a.txt')], delivery: { remote: origin },
  });
  await waitFor('a failed attempt', async () => (await sql<any>(first, `select attempts from omoi_ticket_push where ticket_id = 'T-restart' and attempts >= 1`))[0]);
  await first.stop();
  await git(parent, 'init', '--quiet', '--bare', origin);
  const second = await withNode(t, cluster2, { localAgentCapacity: 1, ...slow });
  const row = await waitFor('delivered by the second node', async () => {
    const r = (await sql<any>(second, `select * from omoi_ticket where id = 'T-restart'`))[0];
    return r?.delivery_status === 'delivered' ? r : undefined;
  }, { timeoutMs: 60_000 });
  t.equal(await branchAt(origin, 'omoi/T-restart'), row.head, 'the pending push survived the first node');
});
