// The home view: alerts, tickets, agents, dead letters, the audit log, the selected ticket's
// detail and the live events. Its markup is `#board` in index.html; mounting moves it into the view.
import { Unauthorized, api, guarded, post } from '../lib/api.js';
import { runAction } from '../lib/actions.js';
import { $, age, badge, el, time, viewLink } from '../lib/dom.js';
import { onEvents, onReset } from '../lib/live.js';
import { repeat } from '../lib/repeat.js';
import { navigate, registerView } from '../lib/router.js';
import { spendText } from './spend.js';
import { refreshDetail } from './ticket-detail.js';

const TICKET_KEY = 'omoi.selectedTicket';
const STATE_POLL_MS = 3000;
const MAX_EVENTS = 300;

let selected = localStorage.getItem(TICKET_KEY);
/** Stops the overview's refresh (while it is mounted). */
let stopRefresh = () => {};
let mounted = false;

registerView({ pattern: '#/', title: 'Overview', nav: true, mount: mountOverview });
registerView({ pattern: '#/tickets/:ticket', title: 'Ticket', nav: false, mount: mountOverview });

function mountOverview(root, params) {
  root.append($('board'));
  $('board').hidden = false;
  mounted = true;
  if (params.ticket) setSelected(params.ticket);
  stopRefresh = repeat(STATE_POLL_MS, () => guarded(refreshAll));
  return {
    update(next) {
      if (next.ticket && next.ticket !== selected) {
        setSelected(next.ticket);
        guarded(() => refreshDetail(selected));
      }
    },
    unmount() {
      mounted = false;
      stopRefresh();
      $('board').hidden = true;
      $('parked').append($('board'));
    },
  };
}

function setSelected(ticketId) {
  selected = ticketId;
  localStorage.setItem(TICKET_KEY, ticketId);
  for (const row of document.querySelectorAll('.ticket-row')) row.classList.toggle('selected', row.dataset.ticket === ticketId);
  if ($('events-selected-only').checked) filterEvents();
}

function select(ticketId) {
  navigate(`#/tickets/${encodeURIComponent(ticketId)}`);
}

async function refreshAll() {
  await Promise.all([refreshAlerts(), refreshTickets(), refreshAgents(), refreshDeadLetters(), refreshAudit()]);
  await refreshDetail(selected);
}

// ---- tickets -------------------------------------------------------------------------------

async function refreshTickets() {
  const status = $('ticket-status').value;
  const { tickets } = await api(`/api/tickets?limit=200${status ? `&status=${encodeURIComponent(status)}` : ''}`);
  $('tickets-empty').hidden = tickets.length > 0;
  $('tickets').replaceChildren(...tickets.map((t) => {
    const counts = Object.entries(t.tasks || {}).sort().map(([s, n]) => el('span', { class: `count status-${s}` }, `${n} ${s}`));
    return el('tr', {
      class: `ticket-row${t.id === selected ? ' selected' : ''}${t.tasks && t.tasks.blocked ? ' has-blocked' : ''}`,
      dataset: { ticket: t.id },
      tabindex: 0,
      onclick: () => select(t.id),
      onkeydown: (e) => { if (e.key === 'Enter') select(t.id); },
    },
    el('td', {}, el('div', { class: 'id' }, t.id), el('div', { class: 'title' }, t.title)),
    el('td', {}, badge(t.status)),
    el('td', { class: 'counts' }, counts),
    el('td', { class: `spend${t.budget_exceeded ? ' over-budget' : ''}` }, spendText(t)));
  }));
  if (!selected && tickets.length > 0) {
    setSelected(tickets[0].id);
    history.replaceState(null, '', `#/tickets/${encodeURIComponent(selected)}`);
  }
}

// ---- alerts --------------------------------------------------------------------------------

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
function alertAction(alert, action) {
  return runAction({
    question: `${action} ${alert.kind} ${alert.id}: "${alert.title}"`,
    ask: 'Comment (optional):',
    what: `${action} of ${alert.id}`,
    answerEl: $('alerts-answer'),
    run: (comment) => post(`/api/alerts/${encodeURIComponent(alert.id)}/${action}`, comment ? { comment } : {}),
    after: refreshAlerts,
  });
}

// ---- agents, dead letters, audit -----------------------------------------------------------

async function refreshAgents() {
  const { agents } = await api('/api/agents');
  $('agents-empty').hidden = agents.length > 0;
  $('agents').replaceChildren(...agents.map((a) => el('tr', { dataset: { agent: a.id, draining: a.draining ? 'true' : 'false' } },
    el('td', {}, el('div', { class: 'id' }, viewLink(a.id, 'agents', a.id)), el('div', { class: 'title' }, [a.name, `v${a.agent_version}`, (a.capabilities || []).join(', ')].filter(Boolean).join(' · ')),
      a.status === 'removed' ? null : el('div', { class: 'actions agent-actions' },
        a.draining
          ? el('button', { type: 'button', class: 'agent-undrain', onclick: () => agentAction(a, 'undrain') }, 'Undrain')
          : el('button', { type: 'button', class: 'agent-drain', onclick: () => agentAction(a, 'drain') }, 'Drain'),
        el('button', { type: 'button', class: 'agent-remove', onclick: () => agentAction(a, 'remove') }, 'Remove'))),
    el('td', {}, a.phase),
    el('td', {}, badge(a.status), a.draining ? el('span', { class: 'badge draining' }, 'draining') : null,
      a.shutting_down && a.status !== 'removed' ? el('span', { class: 'badge shutting-down' }, 'shutting down') : null, a.reason ? el('div', { class: 'reason' }, a.reason) : null),
    el('td', {}, `${(a.running || []).length}/${a.capacity}`),
  )));
}

const AGENT_ACTIONS = {
  drain: { question: 'It finishes the attempts it runs and is offered no new ones, until undrained.', method: 'POST', path: '/drain' },
  undrain: { question: 'It is offered tasks again.', method: 'POST', path: '/undrain' },
  remove: { question: 'Its running attempts go back to the queue for other agents.', method: 'DELETE', path: '' },
};

/** Drain, undrain or remove an agent (admin), after a confirmation that asks why; the server's answer shows under the table. */
function agentAction(agent, action) {
  const { question, method, path } = AGENT_ACTIONS[action];
  return runAction({
    question: `${action[0].toUpperCase()}${action.slice(1)} agent ${agent.id}? ${question}`,
    ask: 'Reason (optional):',
    what: `${action} of agent ${agent.id}`,
    answerEl: $('agents-answer'),
    run: (reason) => api(`/api/agents/${encodeURIComponent(agent.id)}${path}`, { method, body: JSON.stringify(reason ? { reason } : {}) }),
    after: refreshAgents,
  });
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
      await post(`/api/dlq/${id}/${action}`);
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

// ---- live events (listed even while another view is shown) --------------------------------

onEvents((events) => {
  const list = $('events');
  for (const e of events) list.prepend(eventItem(e));
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  if ($('events-selected-only').checked) filterEvents();
  if (!mounted) return;
  // Something happened to the selected ticket: show it now rather than at the next refresh.
  if (events.some((e) => e.ticket_id === selected)) guarded(() => refreshDetail(selected));
  if (events.some((e) => e.ticket_id && !document.querySelector(`.ticket-row[data-ticket="${CSS.escape(e.ticket_id)}"]`))) guarded(refreshTickets);
});

onReset(() => {
  $('events').replaceChildren();
  if (mounted) guarded(refreshAll);
});

/** Forgets what was listed (another sign-in). */
export function clearEvents() {
  $('events').replaceChildren();
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
  for (const li of $('events').children) li.hidden = only && li.dataset.ticket !== selected;
}

$('ticket-status').addEventListener('change', () => guarded(refreshTickets));
$('events-selected-only').addEventListener('change', filterEvents);
$('audit-panel').addEventListener('toggle', () => guarded(refreshAudit));
