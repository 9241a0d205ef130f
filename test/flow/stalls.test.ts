import { execFileSync } from 'node:child_process';
import t from 'tap';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { events, task, taskRows, waitTask, waitTicket } from './helpers.ts';

// Stuck work: an attempt whose command runs silently (no output, no progress report) for longer
// than OMOI_TASK_STALL_MS raises `task.stalled` once, and is left or restarted; an attempt that
// writes output is not stalled; a ticket unchanged for OMOI_TICKET_STALL_MS raises `ticket.stalled`
// once per stall.

const alive = (tag: string) => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === tag);
const sleepTag = (n: number) => `sleep ${600 + (process.pid % 1000)}.${n}${Date.now() % 1000}`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('stalled tasks and tickets', async (t) => {
  const cluster = await withCluster(t);
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });

  t.test('a silent command is flagged once and left; one that writes output is not', async (t) => {
    const node = await withNode(t, cluster, { taskStallMs: 1_500, taskStallAction: 'alert', localAgentCapacity: 2 });
    const silent = sleepTag(1);
    await node.submit('ticket.create', {
      ticket_id: 'T-stall-left', title: 'stalls', repository: repo.dir, ownership: 'lenient',
      tasks: [task('quiet', silent, { timeout_ms: 600_000 }), task('chatty', 'for i in $(seq 1 25); do echo working $i; sleep 0.25; done', { timeout_ms: 600_000 })],
    });
    const [stalled] = await waitFor('task.stalled', async () => {
      const e = await events(node, 'T-stall-left', 'task.stalled');
      return e.length ? e : undefined;
    }, { timeoutMs: 30_000 });
    t.same(Object.keys(stalled.payload).sort(), ['action', 'agent_id', 'attempt', 'silent_ms', 'task_id', 'ticket_id'], 'exactly the documented fields');
    // The attempt that stalled is the one running (a loaded machine may have retried an earlier one for another reason).
    const quiet = (await taskRows(node, 'T-stall-left')).quiet;
    t.match(stalled.payload, { ticket_id: 'T-stall-left', task_id: 'quiet', attempt: quiet.attempt, agent_id: `local-${node.config.nodeId}`, action: 'left' });
    t.ok(Number.isInteger(stalled.payload.silent_ms) && stalled.payload.silent_ms >= 1_500, `silent_ms ${stalled.payload.silent_ms} is at least the stall time`);
    await waitTask(node, 'T-stall-left', 'chatty', 'completed', 30_000);
    await pause(2_500);
    const all = await events(node, 'T-stall-left', 'task.stalled');
    t.same(all.map((e) => e.payload.task_id), ['quiet'], 'once per attempt; the task writing output (6 s, four stall periods) never stalled');
    t.equal((await taskRows(node, 'T-stall-left')).quiet.status, 'running', 'left for a person: still running');
    t.ok(alive(silent), 'its command still runs');
    await node.submit('ticket.cancel', { ticket_id: 'T-stall-left', reason: 'test over' });
    await waitTicket(node, 'T-stall-left', 'cancelled');
  });

  t.test('with OMOI_TASK_STALL_ACTION=restart the stalled attempt is stopped and retried', async (t) => {
    const node = await withNode(t, cluster, { taskStallMs: 1_500, taskStallAction: 'restart' });
    const silent = sleepTag(2);
    await node.submit('ticket.create', {
      ticket_id: 'T-stall-restart', title: 'stalls', repository: repo.dir, ownership: 'lenient',
      tasks: [task('A', `if [ "$OMOI_ATTEMPT" = 1 ]; then ${silent}; else echo second > done.txt; fi`, { timeout_ms: 600_000, max_retries: 2 })],
    });
    await waitTicket(node, 'T-stall-restart', 'completed', 60_000);
    const stalled = await events(node, 'T-stall-restart', 'task.stalled');
    t.equal(stalled.length, 1, 'one stall');
    t.match(stalled[0]!.payload, { task_id: 'A', attempt: 1, action: 'restarted' });
    const row = (await taskRows(node, 'T-stall-restart')).A;
    t.equal(row.attempt, 2, 'the second attempt completed it');
    const statuses = await events(node, 'T-stall-restart', 'task.status');
    t.ok(statuses.some((e) => e.payload.attempt === 1 && e.payload.status === 'ready' && /stalled/.test(e.payload.reason ?? '')), 'attempt 1 failed with reason stalled (a retry)');
    await waitFor('the stalled command was killed', () => !alive(silent) || undefined, { timeoutMs: 10_000 });
  });

  t.test('a ticket that does not change raises ticket.stalled once per stall', async (t) => {
    const node = await withNode(t, cluster, { ticketStallMs: 1_500, taskStallMs: 600_000 });
    await node.submit('ticket.create', {
      ticket_id: 'T-idle', title: 'idle', repository: repo.dir, ownership: 'lenient', tasks: [task('A', sleepTag(3), { timeout_ms: 600_000 })],
    });
    await waitTask(node, 'T-idle', 'A', 'running');
    const first = await waitFor('ticket.stalled', async () => (await events(node, 'T-idle', 'ticket.stalled'))[0], { timeoutMs: 30_000 });
    t.same(first.payload.ticket_id, 'T-idle');
    t.same(Object.keys(first.payload).sort(), ['idle_ms', 'status', 'ticket_id'], 'exactly the documented fields');
    t.match(first.payload, { status: 'running' });
    t.ok(Number.isInteger(first.payload.idle_ms) && first.payload.idle_ms >= 1_500);
    await pause(3_000);
    t.equal((await events(node, 'T-idle', 'ticket.stalled')).length, 1, 'not again while nothing changed');
    // A change (here a progress report of the running attempt), then silence again: a new stall.
    await node.submit('task.progress', { ticket_id: 'T-idle', task_id: 'A', attempt: 1, message: 'still here', percent: 10 });
    await waitFor('a second ticket.stalled after the change', async () => ((await events(node, 'T-idle', 'ticket.stalled')).length === 2) || undefined, { timeoutMs: 30_000 });
    t.ok((await taskRows(node, 'T-idle')).A.progress_at, 'the progress was recorded on the task');
    await node.submit('ticket.cancel', { ticket_id: 'T-idle' });
    await waitTicket(node, 'T-idle', 'cancelled');
  });
});
