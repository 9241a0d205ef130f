// #/supervision: what the actors' supervisors did over a window (crashes, restarts, escalations),
// counted per node and per entity with the latest error, and the events themselves, newest first.
// Reloaded when an `actor.supervision` event arrives and every few seconds.
import { Unauthorized, api, refused } from '../lib/api.js';
import { age, badge, el, time } from '../lib/dom.js';
import { registerView } from '../lib/router.js';
import { repeat } from '../lib/repeat.js';

const REFRESH_MS = 5000;
const PAGE = 50;
const WINDOWS = [['1 hour', 3_600_000], ['24 hours', 86_400_000], ['7 days', 7 * 86_400_000]];

registerView({ pattern: '#/supervision', title: 'Supervision', nav: true, mount: mountSupervision });

function mountSupervision(root) {
  root.classList.add('page');
  let windowMs = WINDOWS[1][1];
  const select = el('select', { id: 'supervision-window', onchange: () => { windowMs = Number(select.value); paged = false; refresh(); } },
    ...WINDOWS.map(([label, ms]) => el('option', { value: ms, selected: ms === windowMs }, label)));
  const status = el('p', { id: 'supervision-status', class: 'muted', role: 'status' }, 'Loading…');
  const error = el('p', { id: 'supervision-error', class: 'error', role: 'alert', hidden: true });
  const nodes = el('tbody', { id: 'supervision-nodes' });
  const groups = el('tbody', { id: 'supervision-groups' });
  const events = el('ol', { id: 'supervision-events', class: 'events supervision-events' });
  const older = el('button', { id: 'supervision-older', type: 'button', hidden: true, onclick: () => loadOlder() }, 'Older events');
  const empty = el('p', { id: 'supervision-empty', class: 'empty', hidden: true }, 'No crash, restart or escalation in this window.');
  const head = (...names) => el('thead', {}, el('tr', {}, ...names.map((n) => el('th', {}, n))));
  root.append(
    el('h2', {}, 'Supervision'),
    el('label', { class: 'filter' }, 'window ', select),
    status, error, empty,
    el('h3', {}, 'Per node'),
    el('div', { class: 'scroll' }, el('table', { class: 'list' }, head('node', 'crashed', 'restarted', 'escalated'), nodes)),
    el('h3', {}, 'Per entity'),
    el('div', { class: 'scroll' }, el('table', { class: 'list' }, head('node', 'actor / entity', 'crashed', 'restarted', 'escalated', 'latest error'), groups)),
    el('h3', {}, 'Events'),
    events, older,
  );

  let alive = true;
  let nextBefore = null;
  let since = null;
  /** Older pages were loaded: a reload keeps the list the reader is paging through. */
  let paged = false;

  const eventItem = (e) => el('li', { class: `event ${e.action === 'escalated' ? 'bad' : ''}`, dataset: { action: e.action, entity: e.entity } },
    el('span', { class: 'time', title: e.at }, time(e.at)), ' ', badge(e.action), ' ',
    el('span', { class: 'type' }, `${e.actor} ${e.entity}`), ` on ${e.node_id || 'an unnamed node'}`,
    e.restarts ? ` · restart ${e.restarts}` : '', e.backoff_ms ? ` after ${e.backoff_ms} ms` : '',
    e.error ? el('div', { class: 'reason' }, e.error) : null);

  async function refresh() {
    try {
      since = new Date(Date.now() - windowMs).toISOString();
      const s = await api(`/api/supervision?since=${encodeURIComponent(since)}&limit=${PAGE}`);
      if (!alive) return;
      error.hidden = true;
      empty.hidden = s.events.length > 0;
      status.textContent = `Since ${new Date(s.since).toLocaleString()}.`;
      nodes.replaceChildren(...s.nodes.map((n) => el('tr', { dataset: { node: n.node_id || '' } },
        el('td', {}, n.node_id || 'unnamed'), el('td', {}, String(n.crashed)), el('td', {}, String(n.restarted)),
        el('td', { class: n.escalated ? 'error' : '' }, String(n.escalated)))));
      groups.replaceChildren(...s.groups.map((g) => el('tr', { class: g.escalated ? 'blocked' : '', dataset: { entity: g.entity, actor: g.actor } },
        el('td', {}, g.node_id || 'unnamed'),
        el('td', {}, el('div', { class: 'id' }, g.entity), el('div', { class: 'title' }, g.actor)),
        el('td', {}, String(g.crashed)), el('td', {}, String(g.restarted)), el('td', {}, String(g.escalated)),
        el('td', {}, g.last_error ? el('div', { class: 'reason' }, g.last_error) : '', el('div', { class: 'muted', title: g.last_at }, `${age(g.last_at)} ago`)))));
      if (!paged) {
        events.replaceChildren(...s.events.map(eventItem));
        nextBefore = s.next_before;
        older.hidden = nextBefore === null;
      }
    } catch (err) {
      if (err instanceof Unauthorized) return refused();
      if (!alive) return;
      error.hidden = false;
      error.textContent = `Could not load supervision: ${err.message}`;
    }
  }

  async function loadOlder() {
    if (nextBefore === null) return;
    try {
      const s = await api(`/api/supervision?since=${encodeURIComponent(since)}&limit=${PAGE}&before=${nextBefore}`);
      paged = true;
      events.append(...s.events.map(eventItem));
      nextBefore = s.next_before;
      older.hidden = nextBefore === null;
    } catch (err) {
      if (err instanceof Unauthorized) return refused();
      error.hidden = false;
      error.textContent = `Could not load older events: ${err.message}`;
    }
  }

  const stop = repeat(REFRESH_MS, refresh);

  return {
    onEvents(list) {
      if (list.some((e) => e.type === 'actor.supervision')) refresh();
    },
    unmount() {
      alive = false;
      stop();
    },
  };
}
