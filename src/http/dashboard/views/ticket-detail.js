// The selected ticket, in the overview's middle panel: its DAG, joins, merge attempts, and the
// actions a person takes on them.
import { Unauthorized, api, post } from '../lib/api.js';
import { runAction } from '../lib/actions.js';
import { GROUP_THRESHOLD, OPEN_TASK } from '../lib/dag-graph.js';
import { $, badge, el, shortSha, viewLink } from '../lib/dom.js';
import { spendText } from './spend.js';
import { renderGraph } from './ticket-graph.js';

const OPEN_TICKET = new Set(['open', 'awaiting_approval', 'running']);
/** A task that ended without completing may be retried while its ticket has not ended for good (`task.retry`). */
const RETRYABLE_TASK = new Set(['failed', 'cancelled']);
const RETRYING_TICKET = new Set(['open', 'running', 'failed']);
/** What a person may resume a join from: its merge failed (`merge.resolve`, a commit or a re-run). */
const BLOCKED_BY_MERGE = new Set(['merge_conflict', 'merge_error']);

/** The last rendered detail, so an unchanged ticket is not re-rendered (open <details> stay open). */
let rendered = '';
let shownTicket = null;

/** Reads and shows `ticketId` (nothing selected: the empty state). A failed read shows in the panel. */
export async function refreshDetail(ticketId, { force = false } = {}) {
  if (!ticketId) {
    $('detail-empty').textContent = 'Select a ticket to see its DAG.';
    $('detail-empty').hidden = false;
    $('detail-body').hidden = true;
    return;
  }
  if (shownTicket !== ticketId) {
    // Another ticket: say it is loading rather than show the previous one.
    $('detail-empty').textContent = `Loading ${ticketId}…`;
    $('detail-empty').hidden = false;
    $('detail-body').hidden = true;
    $('detail-answer').textContent = '';
  }
  let detail;
  try {
    detail = await api(`/api/tickets/${encodeURIComponent(ticketId)}`);
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    $('detail-empty').textContent = `Ticket ${ticketId}: ${err.message}`;
    $('detail-empty').hidden = false;
    $('detail-body').hidden = true;
    shownTicket = null;
    return;
  }
  const json = JSON.stringify(detail);
  if (!force && json === rendered && shownTicket === ticketId && !$('detail-body').hidden) return;
  rendered = json;
  shownTicket = ticketId;
  renderDetail(detail);
}

function renderDetail(detail) {
  const { ticket, tasks, joins, merge_attempts: merges } = detail;
  $('detail-empty').hidden = true;
  $('detail-body').hidden = false;
  $('detail-title').replaceChildren(el('span', { class: 'id' }, ticket.id), ' ', ticket.title, ' ', badge(ticket.status),
    ...(OPEN_TICKET.has(ticket.status) ? [' ', el('button', { type: 'button', class: 'cancel-ticket', onclick: () => cancelWork(ticket.id) }, 'cancel ticket')] : []));
  const meta = [
    ['repository', ticket.repository], ['base', `${ticket.base_branch}${ticket.base_commit ? ` @ ${shortSha(ticket.base_commit)}` : ''}`],
    ['ownership', ticket.ownership], ['head', shortSha(ticket.head)], ['reason', ticket.reason || ticket.failed_reason],
    ['spend', spendText(ticket)],
  ].filter(([, v]) => v);
  $('detail-meta').replaceChildren(...meta.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]), ...deliveryMeta(ticket));
  renderGate(ticket, detail.approvals || []);

  const blocked = tasks.filter((t) => t.status === 'blocked');
  $('detail-blocked').hidden = blocked.length === 0;
  $('detail-blocked').replaceChildren(
    el('strong', {}, `${blocked.length} blocked task${blocked.length === 1 ? '' : 's'} need${blocked.length === 1 ? 's' : ''} a person: `),
    ...blocked.map((t, i) => [i > 0 ? ', ' : '', el('span', { class: 'blocked-item' }, `${t.id} (${t.reason || 'no reason recorded'})`)]).flat(),
  );

  renderGraph($('dag'), detail, {
    cancelTask: (taskId) => cancelWork(ticket.id, taskId),
    canRetry: (t) => RETRYABLE_TASK.has(t.status) && RETRYING_TICKET.has(ticket.status) && !ticket.failed_reason,
    retryTask: (taskId) => retryTask(ticket.id, taskId, tasks.find((x) => x.id === taskId)?.status),
    // Without the layout library: the tasks by dependency depth, as cards.
    fallback: (target) => renderTaskLevels(detail, target),
  });
  renderJoins(ticket, joins);
  renderMerges(ticket, merges);
}

/** The gate the ticket waits at for a person, if any (`ticket.approve` / `ticket.reject`). */
function waitingGate(ticket) {
  if (ticket.status === 'awaiting_approval') return 'before_execute';
  if (ticket.delivery_status === 'awaiting_approval' || ticket.delivery_status === 'rejected') return 'before_delivery';
  return null;
}

const GATE_TEXT = { before_execute: 'waits for approval before its tasks run', before_delivery: 'waits for approval before its branch is pushed' };

/** The gate waiting, with Approve / Reject (a rejected delivery can still be approved), and the decisions taken so far. */
function renderGate(ticket, approvals) {
  const gate = waitingGate(ticket);
  const decided = approvals.map((a) => el('li', { class: `approval ${a.decision}` },
    `${a.gate}: ${a.decision} by ${a.principal} at ${new Date(a.at).toLocaleString()}${a.comment ? ` — ${a.comment}` : ''}`));
  $('detail-gate').hidden = !gate && decided.length === 0;
  $('detail-gate').replaceChildren(
    gate ? el('div', { class: 'gate-waiting', dataset: { gate } },
      el('strong', {}, ticket.delivery_status === 'rejected' ? `Delivery rejected (${ticket.delivery_error || 'no comment'}); it can still be approved: ` : `This ticket ${GATE_TEXT[gate]}: `),
      el('button', { type: 'button', class: 'approve-gate', onclick: () => decide(ticket.id, gate, 'approve') }, 'Approve'), ' ',
      ticket.delivery_status === 'rejected' ? null : el('button', { type: 'button', class: 'reject-gate', onclick: () => decide(ticket.id, gate, 'reject') }, 'Reject')) : null,
    decided.length ? el('ul', { class: 'approvals' }, decided) : null,
  );
}

/** The delivery's rows of the ticket's meta: status, pushed commit, pull request link, error, and Retry when it failed. */
function deliveryMeta(ticket) {
  if (!ticket.delivery) return [];
  const d = ticket.delivery;
  const rows = [
    ['delivery', el('span', {}, badge(ticket.delivery_status || 'after completion'), ` ${d.branch || `omoi/${ticket.id}`} → ${d.remote || ticket.repository}`,
      ticket.delivery_status === 'failed' ? el('button', { type: 'button', class: 'deliver-again', onclick: () => deliverAgain(ticket.id) }, 'Retry push') : null)],
    ['pushed', ticket.delivered_commit ? `${shortSha(ticket.delivered_commit)}${ticket.delivery_attempts > 1 ? ` after ${ticket.delivery_attempts} attempts` : ''}` : null],
    // Only an http(s) URL becomes a link: it is what a command printed.
    ['pull request', ticket.pull_request_url && /^https?:\/\//.test(ticket.pull_request_url)
      ? el('a', { class: 'pull-request', href: ticket.pull_request_url, target: '_blank', rel: 'noopener noreferrer' }, ticket.pull_request_url) : null],
    ['pull request error', ticket.pull_request_error],
    ['delivery error', ticket.delivery_status === 'failed' ? ticket.delivery_error : null],
  ].filter(([, v]) => v);
  return rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]);
}

/** Approve or reject the gate the ticket waits at (operator); a rejection asks for its comment. */
function decide(ticketId, gate, action) {
  const approving = action === 'approve';
  return runAction({
    question: approving
      ? `Approve ${ticketId} at ${gate}? ${gate === 'before_execute' ? 'Its tasks start.' : 'Its branch is pushed.'}`
      : `Reject ${ticketId} at ${gate}? ${gate === 'before_execute' ? 'The ticket is cancelled.' : 'Its branch is not pushed (it can be approved later).'}`,
    ask: approving ? 'Comment (optional):' : 'Comment (required):',
    what: `${approving ? 'approval' : 'rejection'} of ${ticketId}`,
    answerEl: $('detail-answer'),
    run: (comment) => post(`/api/tickets/${encodeURIComponent(ticketId)}/${action}`, { gate, ...(comment ? { comment } : {}) }),
    after: () => refreshDetail(ticketId, { force: true }),
  });
}

/** Push a failed delivery again (`ticket.deliver`). */
function deliverAgain(ticketId) {
  return runAction({
    question: `Push ${ticketId}'s branch again? A new round of attempts starts.`,
    what: `delivery of ${ticketId}`,
    answerEl: $('detail-answer'),
    run: () => post(`/api/tickets/${encodeURIComponent(ticketId)}/deliver`, {}),
    after: () => refreshDetail(ticketId, { force: true }),
  });
}

/** Dependency depth of each task: 0 without dependencies, else one more than its deepest dependency. */
export function depths(tasks) {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const memo = new Map();
  const depth = (id, seen) => {
    if (memo.has(id)) return memo.get(id);
    const task = byId.get(id);
    if (!task || seen.has(id)) return 0; // unknown or cyclic: the server rejects those; never loop here
    seen.add(id);
    const deps = (task.depends_on || []).filter((d) => byId.has(d));
    const d = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((x) => depth(x, seen)));
    seen.delete(id);
    memo.set(id, d);
    return d;
  };
  for (const t of tasks) depth(t.id, new Set());
  return memo;
}

/** The tasks as cards by dependency depth, into `target`: the graph's fallback. */
function renderTaskLevels({ ticket, tasks, joins }, target) {
  const depth = depths(tasks);
  const levels = new Map();
  for (const t of tasks) {
    const d = depth.get(t.id) || 0;
    if (!levels.has(d)) levels.set(d, []);
    levels.get(d).push(t);
  }
  const joinByContinuation = new Map(joins.map((j) => [j.continuation, j]));
  target.replaceChildren(...[...levels.keys()].sort((a, b) => a - b).map((d) => el('div', { class: 'level' },
    el('div', { class: 'level-label' }, `depth ${d}`),
    el('div', { class: 'level-tasks' }, levels.get(d).map((t) => taskCard(ticket, t, joinByContinuation.get(t.id)))),
  )));
}

/** Joins whose long list of sources a person opened: kept open across live re-renders. */
const openSourceLists = new Set();

function renderJoins(ticket, joins) {
  $('joins-empty').hidden = joins.length > 0;
  $('joins').replaceChildren(...joins.map((j) => {
    const collected = new Set(Object.keys(j.completed || {}));
    const all = j.sources || [];
    const sources = all.map((s) => el('span', { class: `source ${collected.has(s) ? 'collected' : 'waiting'}`, title: collected.has(s) ? 'completed' : 'waiting' }, `${collected.has(s) ? '✓' : '…'} ${s}`));
    // A big fan-in (1 → 200 → 1) lists its sources behind a summary, as the graph groups them.
    const key = `${ticket.id}/${j.id}`;
    const listed = all.length <= GROUP_THRESHOLD ? sources : el('details', {
      class: 'source-list', open: openSourceLists.has(key),
      ontoggle: (e) => { if (e.target.open) openSourceLists.add(key); else openSourceLists.delete(key); },
    }, el('summary', {}, `${all.length - collected.size} waiting; all ${all.length} sources`), sources);
    return el('tr', { class: j.status === 'blocked' ? 'blocked' : '', dataset: { join: j.id } },
      el('td', { class: 'id' }, j.id),
      el('td', {}, j.continuation),
      el('td', {}, el('span', { class: 'collected-count' }, `${collected.size}/${all.length} collected`), ' ', listed),
      el('td', {}, badge(j.status), j.merge_commit ? el('div', { class: 'sha' }, shortSha(j.merge_commit)) : null),
      el('td', {}, j.reason ? el('span', { class: 'reason' }, j.reason) : '', j.files && j.files.length ? el('div', { class: 'files' }, j.files.join(', ')) : null,
        j.status === 'blocked' && BLOCKED_BY_MERGE.has(j.blocked_by) ? el('div', { class: 'join-actions' },
          el('button', { type: 'button', class: 'join-use-commit', onclick: () => useCommit(ticket.id, j.id) }, 'Use commit…'),
          el('button', { type: 'button', class: 'join-rerun-resolver', onclick: () => rerunResolver(ticket.id, j.id) }, 'Re-run resolver')) : null),
    );
  }));
}

function renderMerges(ticket, merges) {
  $('merges-empty').hidden = merges.length > 0;
  $('merges').replaceChildren(...merges.map((m) => el('div', { class: `merge ${m.ok ? 'ok' : 'failed'}`, dataset: { join: m.join_id } },
    el('div', { class: 'merge-head' },
      el('strong', {}, viewLink(`${m.join_id} · attempt ${m.attempt}`, 'tickets', ticket.id, 'joins', m.join_id, 'merges', String(m.attempt))), ' ',
      el('span', { class: `badge ${m.ok ? 'status-completed' : 'status-blocked'}` }, m.ok ? 'merged' : 'conflict'),
      m.commit ? el('span', { class: 'sha' }, ` ${shortSha(m.commit)}`) : null,
      el('span', { class: 'muted' }, ` ${m.duration_ms} ms`)),
    el('div', {}, 'order: ', el('span', { class: 'order' }, (m.merge_order || []).join(' → '))),
    el('ul', { class: 'conflicts' }, Object.entries(m.conflicts || {}).map(([source, files]) =>
      el('li', { class: files.length ? 'conflicted' : '' }, `${source}: `, files.length ? files.join(', ') : 'no conflicts'))),
    m.files && m.files.length ? el('div', {}, 'unresolved files: ', el('span', { class: 'files' }, m.files.join(', '))) : null,
    m.resolver_output ? el('details', {}, el('summary', {}, 'resolver output'), el('pre', {}, m.resolver_output)) : null,
  )));
}

function taskCard(ticket, t, join) {
  const title = (t.spec && t.spec.title) || (t.spec && t.spec.run) || '';
  return el('div', { class: `task status-${t.status}${t.status === 'blocked' ? ' blocked' : ''}`, dataset: { task: t.id, status: t.status } },
    el('div', { class: 'task-head' }, el('span', { class: 'id' }, viewLink(t.id, 'tickets', ticket.id, 'tasks', t.id)), ' ', badge(t.status)),
    title ? el('div', { class: 'title', title }, title) : null,
    el('div', { class: 'task-meta' },
      (t.depends_on || []).length ? `after ${t.depends_on.join(', ')}` : 'no dependencies',
      t.attempt ? ` · attempt ${t.attempt}` : '',
      t.agent_id ? ` · ${t.agent_id}` : '',
      t.commit ? ` · ${shortSha(t.commit)}` : ''),
    join ? el('div', { class: 'task-meta' }, `join ${join.id}: ${Object.keys(join.completed || {}).length}/${(join.sources || []).length} sources`) : null,
    t.reason ? el('div', { class: t.status === 'blocked' ? 'reason blocked-reason' : 'reason' }, t.status === 'blocked' ? `⚠ blocked: ${t.reason}` : t.reason) : null,
    OPEN_TASK.has(t.status) ? el('button', { type: 'button', class: 'cancel-task', onclick: () => cancelWork(ticket.id, t.id) }, 'cancel') : null,
    RETRYABLE_TASK.has(t.status) && RETRYING_TICKET.has(ticket.status) && !ticket.failed_reason
      ? el('button', { type: 'button', class: 'retry-task', onclick: () => retryTask(ticket.id, t.id, t.status) }, 'retry') : null,
    t.retried_by ? el('div', { class: 'task-meta retried' }, `retried by ${t.retried_by}${t.retry_reason ? `: ${t.retry_reason}` : ''}`) : null,
  );
}

/**
 * Retry a failed or cancelled task (operator), after a confirmation that asks why: it runs again
 * with its retries renewed, what its end blocked resumes, and a ticket it failed runs again.
 */
function retryTask(ticketId, taskId, status) {
  const what = `task ${taskId} of ${ticketId}`;
  return runAction({
    question: `Retry ${what}? It ${status === 'failed' ? 'failed' : 'was cancelled'}; it runs again with its retries renewed, and what it blocked resumes.`,
    ask: 'Reason (optional):',
    what: `retry of ${what}`,
    answerEl: $('detail-answer'),
    run: (reason) => post(`/api/tickets/${encodeURIComponent(ticketId)}/tasks/${encodeURIComponent(taskId)}/retry`, reason ? { reason } : {}),
    after: () => refreshDetail(ticketId, { force: true }),
  });
}

/** Resume a join its merge blocked with a merge commit the person made (`merge.resolve` with `commit`). */
function useCommit(ticketId, joinId) {
  return runAction({
    question: `Resume ${joinId} of ${ticketId} on your merge commit? Its continuation runs on that commit.`,
    ask: 'The full 40-character sha of your merge commit (pushed to the ticket\'s repository):',
    what: `resolution of ${joinId}`,
    answerEl: $('detail-answer'),
    run: (commit) => post(`/api/tickets/${encodeURIComponent(ticketId)}/joins/${encodeURIComponent(joinId)}/resolve`, { commit: commit.trim() }),
    after: () => refreshDetail(ticketId, { force: true }),
  });
}

/** A new merge attempt of a join its merge blocked, running the ticket's resolver again (`rerun_resolver`). */
function rerunResolver(ticketId, joinId) {
  return runAction({
    question: `Re-run the merge of ${joinId} of ${ticketId}? A new attempt runs the ticket's resolver; it may block again.`,
    what: `re-run of ${joinId}`,
    answerEl: $('detail-answer'),
    run: () => post(`/api/tickets/${encodeURIComponent(ticketId)}/joins/${encodeURIComponent(joinId)}/resolve`, { rerun_resolver: true }),
    after: () => refreshDetail(ticketId, { force: true }),
  });
}

/**
 * Cancel a ticket, or one task of it (operator), after a confirmation that asks why: its running
 * processes are killed at once and its claims released. The server's answer shows under the title.
 */
function cancelWork(ticketId, taskId) {
  const what = taskId ? `task ${taskId} of ${ticketId}` : `ticket ${ticketId}`;
  const path = taskId ? `/api/tickets/${encodeURIComponent(ticketId)}/tasks/${encodeURIComponent(taskId)}/cancel` : `/api/tickets/${encodeURIComponent(ticketId)}/cancel`;
  return runAction({
    question: `Cancel ${what}? Its running processes are killed at once.`,
    ask: 'Reason (optional):',
    what: `cancel of ${what}`,
    answerEl: $('detail-answer'),
    run: (reason) => post(path, reason ? { reason } : {}),
    after: () => refreshDetail(ticketId, { force: true }),
  });
}
