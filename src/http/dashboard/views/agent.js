// #/agents/:agent: one agent — its registration, last heartbeat, budget and spend, the controls
// sent to it (drain, shutdown, broadcast, and whether it acknowledged them), the attempts it runs
// now, its recent attempts with their outcome, and the ready tasks that need a capability it lacks
// (or that no agent matches). Drain, undrain and shut down buttons (admin). Reloaded on events
// about it and every few seconds.
import { Unauthorized, api, refused } from '../lib/api.js';
import { runAction } from '../lib/actions.js';
import { age, badge, el, time } from '../lib/dom.js';
import { registerView } from '../lib/router.js';
import { spendText } from './spend.js';
import { repeat } from '../lib/repeat.js';

const REFRESH_MS = 4000;

registerView({ pattern: '#/agents/:agent', title: 'Agent', nav: false, mount: mountAgent });

function mountAgent(root, params) {
  root.classList.add('page');
  const agentId = params.agent;
  const title = el('h2', { id: 'agent-title' }, `Agent ${agentId}`);
  const status = el('p', { id: 'agent-status', class: 'muted', role: 'status' }, 'Loading…');
  const error = el('p', { id: 'agent-error', class: 'error', role: 'alert', hidden: true });
  const meta = el('dl', { id: 'agent-meta', class: 'meta' });
  const current = el('tbody', { id: 'agent-current' });
  const history = el('tbody', { id: 'agent-history' });
  const mismatches = el('tbody', { id: 'agent-mismatches' });
  const controls = el('tbody', { id: 'agent-controls' });
  const actions = el('div', { id: 'agent-actions', class: 'actions agent-actions' });
  const answer = el('p', { id: 'agent-answer', class: 'muted', role: 'status' });
  const empty = (id, text) => el('p', { id, class: 'empty', hidden: true }, text);
  const noCurrent = empty('agent-current-empty', 'No attempt running.');
  const noHistory = empty('agent-history-empty', 'No attempt in the event log.');
  const noMismatch = empty('agent-mismatches-empty', 'No waiting task needs a capability this agent lacks.');
  const noControl = empty('agent-controls-empty', 'No control sent to this agent.');
  const head = (...names) => el('thead', {}, el('tr', {}, ...names.map((n) => el('th', {}, n))));
  const table = (body, ...names) => el('div', { class: 'scroll' }, el('table', { class: 'list' }, head(...names), body));
  root.append(
    el('p', {}, el('a', { href: '#/' }, '← Overview')),
    title, status, error, meta, actions, answer,
    el('h3', {}, 'Controls'), table(controls, 'control', 'kind', 'sent', 'acknowledgement'), noControl,
    el('h3', {}, 'Current attempts'), table(current, 'ticket / task', 'attempt', 'status', 'since'), noCurrent,
    el('h3', {}, 'Recent attempts'), table(history, 'ticket / task', 'attempt', 'outcome', 'started', 'ended'), noHistory,
    el('h3', {}, 'Capability mismatches'), table(mismatches, 'ticket / task', 'needs', 'this agent lacks', 'ready since'), noMismatch,
  );

  let alive = true;
  const taskLink = (ticket, task) => el('a', { href: `#/tickets/${encodeURIComponent(ticket)}` }, `${ticket} / ${task}`);

  async function refresh() {
    try {
      const d = await api(`/api/agents/${encodeURIComponent(agentId)}`);
      if (!alive) return;
      render(d);
      error.hidden = true;
      status.textContent = `Updated ${time(new Date().toISOString())}.`;
    } catch (err) {
      if (err instanceof Unauthorized) return refused();
      if (!alive) return;
      error.hidden = false;
      error.textContent = err.status === 404 ? `No agent ${agentId}.` : `Could not load the agent: ${err.message}`;
      status.textContent = '';
    }
  }

  /** Drain, undrain or shut down (admin), after a confirmation asking why; the server's answer shows under the buttons. */
  function act(action, question) {
    return runAction({
      question: `${question} ${agentId}?`,
      ask: 'Reason (optional):',
      what: `${action} of agent ${agentId}`,
      answerEl: answer,
      run: (reason) => api(`/api/agents/${encodeURIComponent(agentId)}/${action}`, { method: 'POST', body: JSON.stringify(reason ? { reason } : {}) }),
      after: refresh,
    });
  }

  function render(d) {
    const a = d.agent;
    title.replaceChildren(`Agent ${a.id} `, badge(a.status),
      a.draining ? el('span', { class: 'badge draining' }, 'draining') : null,
      a.shutting_down && a.status !== 'removed' ? el('span', { class: 'badge shutting-down' }, 'shutting down') : null);
    const live = a.status !== 'removed';
    actions.replaceChildren(...(!live || a.shutting_down ? [] : [
      a.draining
        ? el('button', { type: 'button', class: 'agent-undrain', onclick: () => act('undrain', 'Undrain agent') }, 'Undrain')
        : el('button', { type: 'button', class: 'agent-drain', onclick: () => act('drain', 'Drain agent (it finishes what it runs and is offered nothing new)') }, 'Drain'),
      el('button', { type: 'button', class: 'agent-shutdown', onclick: () => act('shutdown', 'Shut down agent (it is drained, told to shut down, and removed once its running attempts end)') }, 'Shut down'),
    ]));
    const hb = d.heartbeat;
    const rows = [
      ['name', a.name],
      ['phase', a.phase],
      ['kind', a.kind],
      ['version', a.agent_version],
      ['capabilities', (a.capabilities || []).join(', ') || 'none'],
      ['running', `${(a.running || []).length} of ${a.capacity}`],
      ['last heartbeat', hb.last_at ? `${time(hb.last_at)} (${age(hb.last_at)} ago; only the last one is kept)` : 'none yet'],
      ['registered', a.registered_at ? new Date(a.registered_at).toLocaleString() : ''],
      ['spend', spendText(a)],
    ];
    if (a.reason) rows.push(['reason', a.reason]);
    meta.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { dataset: { field: k } }, v)]));

    const sent = [...(a.controls || [])].reverse();
    noControl.hidden = sent.length > 0;
    controls.replaceChildren(...sent.map((c) => el('tr', { dataset: { control: c.control_id, kind: c.kind, status: c.status } },
      el('td', { class: 'id' }, c.control_id), el('td', {}, c.kind), el('td', { title: c.at }, time(c.at)),
      el('td', {}, badge(c.status === 'sent' ? 'not asked' : c.status.replace('_', ' ')), c.acknowledged_at ? ` ${time(c.acknowledged_at)}` : ''))));

    noCurrent.hidden = d.current.length > 0;
    current.replaceChildren(...d.current.map((c) => el('tr', { dataset: { ticket: c.ticket_id, task: c.task_id } },
      el('td', {}, taskLink(c.ticket_id, c.task_id)), el('td', {}, String(c.attempt)), el('td', {}, badge(c.status)),
      el('td', { title: c.since }, `${age(c.since)} ago`))));

    noHistory.hidden = d.history.length > 0;
    history.replaceChildren(...d.history.map((h) => el('tr', { dataset: { ticket: h.ticket_id, task: h.task_id, outcome: h.outcome } },
      el('td', {}, taskLink(h.ticket_id, h.task_id)), el('td', {}, String(h.attempt)),
      el('td', {}, badge(h.outcome), h.reason ? el('div', { class: 'reason' }, h.reason) : null),
      el('td', { title: h.started_at }, time(h.started_at)), el('td', { title: h.ended_at || '' }, h.ended_at ? time(h.ended_at) : '…'))));

    noMismatch.hidden = d.mismatches.length > 0;
    mismatches.replaceChildren(...d.mismatches.map((m) => el('tr', { class: m.unmatched ? 'blocked' : '', dataset: { ticket: m.ticket_id, task: m.task_id } },
      el('td', {}, taskLink(m.ticket_id, m.task_id)),
      el('td', {}, `${m.phase}: ${m.required.join(', ') || 'no capability'}`),
      el('td', {}, m.phase_differs ? `another phase${m.missing.length ? `; ${m.missing.join(', ')}` : ''}` : m.missing.join(', ') || '—',
        m.unmatched ? el('div', { class: 'reason blocked-reason' }, 'no agent matches') : null),
      el('td', { title: m.ready_since || '' }, m.ready_since ? `${age(m.ready_since)} ago` : ''))));
  }

  const stop = repeat(REFRESH_MS, refresh);

  return {
    onEvents(events) {
      if (events.some((e) => e.payload && e.payload.agent_id === agentId)) refresh();
    },
    unmount() {
      alive = false;
      stop();
    },
  };
}
