// Omoi supervisor dashboard: plain browser JavaScript, no build step.
// Reads the node's HTTP API with the bearer token kept in localStorage; builds every
// element with DOM calls and text nodes (no HTML strings), so data from the API cannot inject markup.
// Live events come over GET /api/events/stream (Server-Sent Events) read with fetch(), so the
// token travels in the Authorization header, never in a URL (EventSource cannot send headers).
'use strict';

const TOKEN_KEY = 'omoi.apiToken';
const TICKET_KEY = 'omoi.selectedTicket';
const EVENT_POLL_MS = 1000;
const STATE_POLL_MS = 3000;
const MAX_EVENTS = 300;
/** Waits before reconnecting the event stream, by consecutive failures. */
const STREAM_RETRY_MS = [1000, 2000, 5000];
/** Failures in a row after which the events are polled, and the stream retried now and then. */
const MAX_STREAM_FAILURES = 3;
const STREAM_RETRY_LATER_MS = 30000;

const state = {
  token: null,
  selected: localStorage.getItem(TICKET_KEY),
  /** The `id` of the newest polled event row (`after=` of the next poll). */
  lastEventId: null,
  eventTimer: null,
  /** The SSE id of the newest streamed event (`Last-Event-ID` of a reconnect). */
  streamId: null,
  streamFailures: 0,
  streamController: null,
  streamTimer: null,
  /** message ids of the events listed: a polled and a streamed copy of one event show once. */
  seen: new Set(),
  stateTimer: null,
  /** The last rendered ticket detail, so an unchanged ticket is not re-rendered (open <details> stay open). */
  renderedDetail: '',
};

const $ = (id) => document.getElementById(id);

/** Creates an element; `attrs` may hold `class`, `title`, `dataset`, event handlers (`onclick`); children are nodes or text. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(status) {
  return el('span', { class: `badge status-${String(status).replace(/[^a-z_]/gi, '')}` }, status);
}

function shortSha(sha) {
  return typeof sha === 'string' && sha.length >= 12 ? sha.slice(0, 10) : sha || '';
}

function time(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString();
}

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { authorization: `Bearer ${state.token}`, ...(options.body ? { 'content-type': 'application/json' } : {}) },
  });
  if (res.status === 401) throw new Unauthorized('the API refused the token');
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = body && body.error ? body.error : { message: res.statusText };
    throw new Error(`${res.status} ${err.code || ''}: ${err.message}${err.field ? ` (field ${err.field})` : ''}`);
  }
  return body;
}

// ---- token ---------------------------------------------------------------------------------

/** A `#token=...` in the URL wins (then leaves the address bar), else the stored token. */
function initialToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get('token');
  if (fromHash) {
    localStorage.setItem(TOKEN_KEY, fromHash);
    hash.delete('token');
    const rest = hash.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
    if (hash.get('ticket')) state.selected = hash.get('ticket');
    return fromHash;
  }
  if (hash.get('ticket')) state.selected = hash.get('ticket');
  return localStorage.getItem(TOKEN_KEY);
}

function showLogin(message) {
  stopPolling();
  state.token = null;
  $('board').hidden = true;
  $('forget-token').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  setConnection('not connected', 'bad');
  $('token-input').focus();
}

function connect(token) {
  state.token = token;
  $('login').hidden = true;
  $('board').hidden = false;
  $('forget-token').hidden = false;
  startPolling();
}

function setConnection(text, kind) {
  const c = $('connection');
  c.textContent = text;
  c.className = `connection ${kind || ''}`;
}

// ---- polling -------------------------------------------------------------------------------

function startPolling() {
  stopPolling();
  state.lastEventId = null;
  state.streamId = null;
  state.streamFailures = 0;
  state.seen.clear();
  $('events').replaceChildren();
  const everything = async () => {
    await guarded(refreshAll);
    if (state.token) state.stateTimer = setTimeout(everything, STATE_POLL_MS);
  };
  everything();
  openEventStream();
}

function stopPolling() {
  stopEventPolling();
  clearTimeout(state.stateTimer);
  clearTimeout(state.streamTimer);
  if (state.streamController) state.streamController.abort();
  state.streamController = null;
  setLive('');
}

/** The fallback: GET /api/events every second. */
function startEventPolling() {
  if (state.eventTimer) return;
  const events = async () => {
    await guarded(pollEvents);
    if (state.token && state.eventTimer) state.eventTimer = setTimeout(events, EVENT_POLL_MS);
  };
  state.eventTimer = setTimeout(events, 0);
}

function stopEventPolling() {
  clearTimeout(state.eventTimer);
  state.eventTimer = null;
}

/** Runs one refresh; a refused token returns to the login form, other failures show in the header. */
async function guarded(fn) {
  try {
    await fn();
    setConnection('connected', 'ok');
  } catch (err) {
    if (err instanceof Unauthorized) {
      localStorage.removeItem(TOKEN_KEY);
      showLogin('The node refused this token. Enter the current one.');
    } else {
      setConnection(`error: ${err.message}`, 'bad');
    }
  }
}

async function refreshAll() {
  await Promise.all([refreshAlerts(), refreshTickets(), refreshAgents(), refreshDeadLetters(), refreshCluster(), refreshAudit()]);
  await refreshDetail();
}

// ---- tickets -------------------------------------------------------------------------------

async function refreshTickets() {
  const status = $('ticket-status').value;
  const { tickets } = await api(`/api/tickets?limit=200${status ? `&status=${encodeURIComponent(status)}` : ''}`);
  $('tickets-empty').hidden = tickets.length > 0;
  $('tickets').replaceChildren(...tickets.map((t) => {
    const counts = Object.entries(t.tasks || {}).sort().map(([s, n]) => el('span', { class: `count status-${s}` }, `${n} ${s}`));
    const row = el('tr', {
      class: `ticket-row${t.id === state.selected ? ' selected' : ''}${t.tasks && t.tasks.blocked ? ' has-blocked' : ''}`,
      dataset: { ticket: t.id },
      tabindex: 0,
      onclick: () => select(t.id),
      onkeydown: (e) => { if (e.key === 'Enter') select(t.id); },
    },
    el('td', {}, el('div', { class: 'id' }, t.id), el('div', { class: 'title' }, t.title)),
    el('td', {}, badge(t.status)),
    el('td', { class: 'counts' }, counts),
    el('td', { class: `spend${t.budget_exceeded ? ' over-budget' : ''}` }, spendText(t)));
    return row;
  }));
  if (!state.selected && tickets.length > 0) select(tickets[0].id);
}

/** `$1.20 / $5.00 · 95s / 600s`, and `over budget` while the ticket may start no attempt. */
function spendText(t) {
  const spend = t.spend || { cost_usd: 0, wall_ms: 0 };
  const budget = t.budget || {};
  const cost = `$${spend.cost_usd.toFixed(2)}${budget.cost_usd != null ? ` / $${budget.cost_usd.toFixed(2)}` : ''}`;
  const wall = `${Math.round(spend.wall_ms / 1000)}s${budget.wall_ms != null ? ` / ${Math.round(budget.wall_ms / 1000)}s` : ''}`;
  return `${cost} · ${wall}${t.budget_exceeded ? ' · over budget' : ''}`;
}

function select(ticketId) {
  state.selected = ticketId;
  localStorage.setItem(TICKET_KEY, ticketId);
  for (const row of document.querySelectorAll('.ticket-row')) row.classList.toggle('selected', row.dataset.ticket === ticketId);
  guarded(refreshDetail);
  if ($('events-selected-only').checked) filterEvents();
}

/** Dependency depth of each task: 0 without dependencies, else one more than its deepest dependency. */
function depths(tasks) {
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

async function refreshDetail() {
  if (!state.selected) {
    $('detail-empty').hidden = false;
    $('detail-body').hidden = true;
    return;
  }
  let detail;
  try {
    detail = await api(`/api/tickets/${encodeURIComponent(state.selected)}`);
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    $('detail-empty').textContent = `Ticket ${state.selected}: ${err.message}`;
    $('detail-empty').hidden = false;
    $('detail-body').hidden = true;
    return;
  }
  const json = JSON.stringify(detail);
  if (json === state.renderedDetail && !$('detail-body').hidden) return;
  state.renderedDetail = json;
  renderDetail(detail);
}

function renderDetail({ ticket, tasks, joins, merge_attempts: merges }) {
  $('detail-empty').hidden = true;
  $('detail-body').hidden = false;
  $('detail-title').replaceChildren(el('span', { class: 'id' }, ticket.id), ' ', ticket.title, ' ', badge(ticket.status),
    OPEN_TICKET.has(ticket.status) ? el('button', { type: 'button', class: 'cancel-ticket', onclick: () => cancelWork(ticket.id) }, 'cancel ticket') : null);
  const meta = [
    ['repository', ticket.repository], ['base', `${ticket.base_branch}${ticket.base_commit ? ` @ ${shortSha(ticket.base_commit)}` : ''}`],
    ['ownership', ticket.ownership], ['head', shortSha(ticket.head)], ['reason', ticket.reason || ticket.failed_reason],
    ['spend', spendText(ticket)],
  ].filter(([, v]) => v);
  $('detail-meta').replaceChildren(...meta.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));

  const blocked = tasks.filter((t) => t.status === 'blocked');
  $('detail-blocked').hidden = blocked.length === 0;
  $('detail-blocked').replaceChildren(
    el('strong', {}, `${blocked.length} blocked task${blocked.length === 1 ? '' : 's'} need${blocked.length === 1 ? 's' : ''} a person: `),
    ...blocked.map((t, i) => [i > 0 ? ', ' : '', el('span', { class: 'blocked-item' }, `${t.id} (${t.reason || 'no reason recorded'})`)]).flat(),
  );

  const depth = depths(tasks);
  const levels = new Map();
  for (const t of tasks) {
    const d = depth.get(t.id) || 0;
    if (!levels.has(d)) levels.set(d, []);
    levels.get(d).push(t);
  }
  const joinByContinuation = new Map(joins.map((j) => [j.continuation, j]));
  $('dag').replaceChildren(...[...levels.keys()].sort((a, b) => a - b).map((d) => el('div', { class: 'level' },
    el('div', { class: 'level-label' }, `depth ${d}`),
    el('div', { class: 'level-tasks' }, levels.get(d).map((t) => taskCard(t, joinByContinuation.get(t.id)))),
  )));

  $('joins-empty').hidden = joins.length > 0;
  $('joins').replaceChildren(...joins.map((j) => {
    const collected = Object.keys(j.completed || {});
    const sources = (j.sources || []).map((s) => el('span', { class: `source ${collected.includes(s) ? 'collected' : 'waiting'}`, title: collected.includes(s) ? 'completed' : 'waiting' }, `${collected.includes(s) ? '✓' : '…'} ${s}`));
    return el('tr', { class: j.status === 'blocked' ? 'blocked' : '', dataset: { join: j.id } },
      el('td', { class: 'id' }, j.id),
      el('td', {}, j.continuation),
      el('td', {}, el('span', { class: 'collected-count' }, `${collected.length}/${(j.sources || []).length} collected`), ' ', sources),
      el('td', {}, badge(j.status), j.merge_commit ? el('div', { class: 'sha' }, shortSha(j.merge_commit)) : null),
      el('td', {}, j.reason ? el('span', { class: 'reason' }, j.reason) : '', j.files && j.files.length ? el('div', { class: 'files' }, j.files.join(', ')) : null),
    );
  }));

  $('merges-empty').hidden = merges.length > 0;
  $('merges').replaceChildren(...merges.map((m) => el('div', { class: `merge ${m.ok ? 'ok' : 'failed'}`, dataset: { join: m.join_id } },
    el('div', { class: 'merge-head' },
      el('strong', {}, `${m.join_id} · attempt ${m.attempt}`), ' ',
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

function taskCard(t, join) {
  const title = (t.spec && t.spec.title) || (t.spec && t.spec.run) || '';
  return el('div', { class: `task status-${t.status}${t.status === 'blocked' ? ' blocked' : ''}`, dataset: { task: t.id, status: t.status } },
    el('div', { class: 'task-head' }, el('span', { class: 'id' }, t.id), ' ', badge(t.status)),
    title ? el('div', { class: 'title', title }, title) : null,
    el('div', { class: 'task-meta' },
      (t.depends_on || []).length ? `after ${t.depends_on.join(', ')}` : 'no dependencies',
      t.attempt ? ` · attempt ${t.attempt}` : '',
      t.agent_id ? ` · ${t.agent_id}` : '',
      t.commit ? ` · ${shortSha(t.commit)}` : ''),
    join ? el('div', { class: 'task-meta' }, `join ${join.id}: ${Object.keys(join.completed || {}).length}/${(join.sources || []).length} sources`) : null,
    t.reason ? el('div', { class: t.status === 'blocked' ? 'reason blocked-reason' : 'reason' }, t.status === 'blocked' ? `⚠ blocked: ${t.reason}` : t.reason) : null,
    OPEN_TASK.has(t.status) ? el('button', { type: 'button', class: 'cancel-task', onclick: () => cancelWork(t.ticket_id || state.selected, t.id) }, 'cancel') : null,
  );
}

const OPEN_TICKET = new Set(['open', 'running']);
const OPEN_TASK = new Set(['pending', 'ready', 'waiting_for_files', 'assigned', 'running', 'blocked']);

/**
 * Cancel a ticket, or one task of it (operator), after a confirmation that asks why: its running
 * processes are killed at once and its claims released. The server's answer shows under the title.
 */
async function cancelWork(ticketId, taskId) {
  const what = taskId ? `task ${taskId} of ${ticketId}` : `ticket ${ticketId}`;
  const reason = window.prompt(`Cancel ${what}? Its running processes are killed at once.\nReason (optional):`, '');
  if (reason === null) return; // not confirmed
  $('detail-answer').textContent = '';
  await guarded(async () => {
    const path = taskId ? `/api/tickets/${encodeURIComponent(ticketId)}/tasks/${encodeURIComponent(taskId)}/cancel` : `/api/tickets/${encodeURIComponent(ticketId)}/cancel`;
    try {
      const answer = await api(path, { method: 'POST', body: JSON.stringify(reason ? { reason } : {}) });
      $('detail-answer').textContent = `cancel of ${what} accepted (message ${answer.message_id})`;
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      $('detail-answer').textContent = `cancel of ${what} refused: ${err.message}`;
    }
    state.renderedDetail = undefined; // show the outcome as soon as it is there
    await refreshDetail();
  });
}

// ---- alerts --------------------------------------------------------------------------------

/** How long ago, in the largest whole unit. */
function age(iso) {
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (Number.isNaN(s)) return '';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Open alerts (raised or acknowledged), as the API orders them: most severe first. */
async function refreshAlerts() {
  const { alerts, open } = await api('/api/alerts?status=open&limit=100');
  const total = Object.values(open || {}).reduce((a, b) => a + b, 0);
  $('alerts-count').textContent = total ? `(${total} open)` : '';
  $('alerts-empty').hidden = alerts.length > 0;
  $('alerts').replaceChildren(...alerts.map((a) => el('tr', { dataset: { alert: a.id }, class: `alert-${a.status}` },
    el('td', {}, el('div', { class: 'id' }, `${a.kind} · ${a.id}`), el('div', { class: 'title' }, a.title),
      a.acknowledged_by ? el('div', { class: 'reason' }, `acknowledged by ${a.acknowledged_by}${a.acknowledged_comment ? `: ${a.acknowledged_comment}` : ''}`) : null,
      el('div', { class: 'actions' },
        a.status === 'raised' ? el('button', { type: 'button', onclick: () => alertAction(a, 'acknowledge') }, 'acknowledge') : null,
        el('button', { type: 'button', onclick: () => alertAction(a, 'resolve') }, 'resolve'))),
    el('td', {}, el('span', { class: `badge severity-${String(a.severity).replace(/[^a-z]/g, '')}` }, a.severity), ' ', badge(a.status)),
    el('td', {}, String(a.count)),
    el('td', { title: a.first_raised_at }, age(a.first_raised_at)),
  )));
}

/** Acknowledge or resolve (operator), after a confirmation; the server's answer is shown under the panel. */
async function alertAction(alert, action) {
  const comment = window.prompt(`${action} ${alert.kind} ${alert.id}: "${alert.title}"\nComment (optional):`, '');
  if (comment === null) return; // cancelled
  $('alerts-answer').textContent = '';
  await guarded(async () => {
    try {
      const answer = await api(`/api/alerts/${encodeURIComponent(alert.id)}/${action}`, { method: 'POST', body: JSON.stringify(comment ? { comment } : {}) });
      $('alerts-answer').textContent = `${action} of ${answer.alert_id} accepted (message ${answer.message_id})`;
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      $('alerts-answer').textContent = `${action} refused: ${err.message}`;
    }
    await refreshAlerts();
  });
}

// ---- agents, dead letters, cluster ---------------------------------------------------------

async function refreshAgents() {
  const { agents } = await api('/api/agents');
  $('agents-empty').hidden = agents.length > 0;
  $('agents').replaceChildren(...agents.map((a) => el('tr', { dataset: { agent: a.id } },
    el('td', {}, el('div', { class: 'id' }, a.id), el('div', { class: 'title' }, `${a.name} · v${a.agent_version} · ${(a.capabilities || []).join(', ')}`)),
    el('td', {}, a.phase),
    el('td', {}, badge(a.status), a.reason ? el('div', { class: 'reason' }, a.reason) : null),
    el('td', {}, `${(a.running || []).length}/${a.capacity}`),
  )));
}

async function refreshDeadLetters() {
  const { dead_letters: letters } = await api('/api/dlq?status=open&limit=50');
  $('dead-letters-empty').hidden = letters.length > 0;
  $('dead-letters').replaceChildren(...letters.map((d) => el('li', { dataset: { deadLetter: d.id } },
    el('div', {}, el('strong', {}, `#${d.id} ${d.code}`), ' ', el('span', { class: 'muted' }, d.subject)),
    el('div', { class: 'reason' }, d.reason),
    el('div', { class: 'actions' },
      el('button', { type: 'button', onclick: () => dlqAction(d.id, 'retry') }, 'retry'),
      el('button', { type: 'button', onclick: () => dlqAction(d.id, 'discard') }, 'discard')),
  )));
}

/** Retry or discard (admin only): a refusal, such as a viewer's 403, stays under the panel until the next action. */
async function dlqAction(id, action) {
  $('dead-letters-error').textContent = '';
  await guarded(async () => {
    try {
      await api(`/api/dlq/${id}/${action}`, { method: 'POST', body: '{}' });
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      $('dead-letters-error').textContent = `${action} refused: ${err.message}`;
    }
    await refreshDeadLetters();
  });
}

/** The audit log, read only while its panel is open; a non-admin sees the server's 403 there. */
async function refreshAudit() {
  if (!$('audit-panel').open) return;
  let rows;
  try {
    ({ audit: rows } = await api('/api/audit?limit=50'));
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    $('audit').replaceChildren();
    $('audit-empty').hidden = true;
    $('audit-error').textContent = err.message;
    return;
  }
  $('audit-error').textContent = '';
  $('audit-empty').hidden = rows.length > 0;
  $('audit').replaceChildren(...rows.map((r) => el('tr', { dataset: { audit: r.id } },
    el('td', {}, time(r.at)),
    el('td', {}, r.principal, el('div', { class: 'muted' }, [r.role, r.channel].filter(Boolean).join(' · '))),
    el('td', {}, r.command, r.target ? el('div', { class: 'id' }, r.target) : null),
    el('td', { class: String(r.outcome).startsWith('refused') ? 'reason' : '' }, r.outcome),
  )));
}

async function refreshCluster() {
  const c = await api('/api/cluster');
  const now = Date.now();
  const held = new Map();
  for (const l of c.leases) {
    if (l.node_id && Date.parse(l.expires_at) > now) held.set(l.node_id, (held.get(l.node_id) || 0) + 1);
  }
  $('cluster').replaceChildren(
    el('span', {}, `node ${c.node_id}`),
    ...c.nodes.map((n) => el('span', { class: `node status-${n.status}` }, `${n.id}: ${n.status}, ${held.get(n.id) || 0}/${c.partitions} partitions`)),
    el('span', {}, c.lag ? `lag ${c.lag.total}` : 'lag unknown'),
  );
}

// ---- events --------------------------------------------------------------------------------

class StreamRefused extends Error {
  constructor(status, code) {
    super(`event stream refused: ${status} ${code || ''}`);
    this.code = code;
  }
}

function setLive(mode) {
  const live = $('live-state');
  live.textContent = mode;
  live.className = `live-state ${mode}`;
}

/**
 * Follows GET /api/events/stream: on open, one poll fills what came before (or while it was
 * away); then each streamed event is listed as it comes. When the stream ends or fails it is
 * reopened with Last-Event-ID, after a growing wait; after MAX_STREAM_FAILURES failures in a
 * row (or a node without a feed) the events are polled, and the stream tried again later.
 */
async function openEventStream() {
  clearTimeout(state.streamTimer);
  if (!state.token) return;
  const controller = new AbortController();
  state.streamController = controller;
  const headers = { authorization: `Bearer ${state.token}`, accept: 'text/event-stream' };
  if (state.streamId !== null) headers['last-event-id'] = state.streamId;
  let refusal = null;
  try {
    const res = await fetch('/api/events/stream', { headers, signal: controller.signal, cache: 'no-store' });
    if (res.status === 401) throw new Unauthorized('the API refused the token');
    if (!res.ok || !res.body) {
      const body = await res.json().catch(() => ({}));
      throw new StreamRefused(res.status, body && body.error && body.error.code);
    }
    state.streamFailures = 0;
    stopEventPolling();
    setLive('live');
    guarded(pollEvents);
    await readEventStream(res.body, onStreamEvent);
  } catch (err) {
    if (controller.signal.aborted) return;
    if (err instanceof Unauthorized) {
      localStorage.removeItem(TOKEN_KEY);
      showLogin('The node refused this token. Enter the current one.');
      return;
    }
    refusal = err;
    state.streamFailures++;
  }
  if (controller.signal.aborted || !state.token) return;
  const noFeed = refusal instanceof StreamRefused && refusal.code === 'events_unavailable';
  if (noFeed || state.streamFailures >= MAX_STREAM_FAILURES) {
    setLive('polling');
    startEventPolling();
    state.streamTimer = setTimeout(openEventStream, STREAM_RETRY_LATER_MS);
  } else {
    setLive('reconnecting');
    const wait = STREAM_RETRY_MS[Math.min(state.streamFailures, STREAM_RETRY_MS.length - 1)];
    state.streamTimer = setTimeout(openEventStream, wait);
  }
}

/** Reads a text/event-stream body, calling `each({ id, event, data })` per event (comments skipped). */
async function readEventStream(body, each) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = { id: null, event: 'message', data: null };
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') message.id = value;
        else if (field === 'event') message.event = value;
        else if (field === 'data') message.data = message.data === null ? value : `${message.data}\n${value}`;
      }
      if (message.data !== null) each(message);
    }
  }
}

function onStreamEvent(message) {
  if (message.event === 'reset') {
    // Our position is gone: start over from the newest events (the stream ends, and reopens without one).
    state.streamId = null;
    state.lastEventId = null;
    state.seen.clear();
    $('events').replaceChildren();
    guarded(refreshAll);
    return;
  }
  if (message.id !== null) state.streamId = message.id;
  let env;
  try {
    env = JSON.parse(message.data);
  } catch {
    return;
  }
  const payload = env.payload || {};
  showEvents([{ message_id: env.id, type: env.type, payload, time: env.time, ticket_id: typeof payload.ticket_id === 'string' ? payload.ticket_id : null }]);
}

async function pollEvents() {
  const query = state.lastEventId === null ? 'tail=1&limit=100' : `after=${state.lastEventId}&limit=500`;
  const { events, next_after: next } = await api(`/api/events?${query}`);
  state.lastEventId = next;
  showEvents(events);
}

/** Lists the events not listed yet (oldest first in `events`, newest on top). */
function showEvents(all) {
  const events = all.filter((e) => !e.message_id || !state.seen.has(e.message_id));
  if (events.length === 0) return;
  const list = $('events');
  for (const e of events) {
    if (e.message_id) state.seen.add(e.message_id);
    list.prepend(eventItem(e));
  }
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  if (state.seen.size > 4 * MAX_EVENTS) state.seen = new Set([...list.children].map((li) => li.dataset.message).filter(Boolean));
  if ($('events-selected-only').checked) filterEvents();
  // Something happened to the selected ticket: show it now rather than at the next refresh.
  if (events.some((e) => e.ticket_id === state.selected)) guarded(refreshDetail);
  if (events.some((e) => e.ticket_id && !document.querySelector(`.ticket-row[data-ticket="${CSS.escape(e.ticket_id)}"]`))) guarded(refreshTickets);
}

function eventItem(e) {
  const p = e.payload || {};
  const what = [p.task_id && `task ${p.task_id}`, p.join_id && `join ${p.join_id}`, p.agent_id && `agent ${p.agent_id}`, p.status, p.reason, p.code]
    .filter(Boolean).join(' · ');
  const bad = p.status === 'blocked' || p.status === 'failed' || p.ok === false || String(e.type).startsWith('error.') || e.type === 'alert.raised';
  return el('li', { class: bad ? 'event bad' : 'event', dataset: { ticket: e.ticket_id || '', message: e.message_id || '' } },
    el('span', { class: 'time' }, time(e.time)), ' ',
    el('span', { class: 'type' }, e.type), ' ',
    e.ticket_id ? el('span', { class: 'id' }, e.ticket_id) : null, ' ',
    el('span', {}, what));
}

function filterEvents() {
  const only = $('events-selected-only').checked;
  for (const li of $('events').children) li.hidden = only && li.dataset.ticket !== state.selected;
}

// ---- start ---------------------------------------------------------------------------------

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  localStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  connect(token);
});
$('forget-token').addEventListener('click', () => {
  localStorage.removeItem(TOKEN_KEY);
  showLogin('');
});
$('ticket-status').addEventListener('change', () => guarded(refreshTickets));
$('events-selected-only').addEventListener('change', filterEvents);
$('audit-panel').addEventListener('toggle', () => guarded(refreshAudit));

const token = initialToken();
if (token) connect(token);
else showLogin('');
