// #/specs: every spec, newest first (GET /api/specs): id, goal, status, phase, last change.
// Reloaded when a spec.* event arrives (and when the event stream lost its place).
import { Unauthorized, api, refused } from '../lib/api.js';
import { coalesced } from '../lib/coalesce.js';
import { age, badge, el, viewLink } from '../lib/dom.js';
import { onReset } from '../lib/live.js';
import { registerView } from '../lib/router.js';

const STATUSES = ['planning', 'awaiting_approval', 'executing', 'completed', 'blocked', 'failed'];
const GOAL_CHARS = 140;

registerView({ pattern: '#/specs', title: 'Specs', nav: true, mount: mountSpecs });

function mountSpecs(root) {
  root.classList.add('page');
  const status = el('p', { id: 'specs-status', class: 'muted', role: 'status' }, 'Loading…');
  const error = el('p', { id: 'specs-error', class: 'error', role: 'alert', hidden: true });
  const filter = el('select', { id: 'specs-filter', onchange: () => reload() },
    el('option', { value: '' }, 'all'), ...STATUSES.map((s) => el('option', { value: s }, s.replace(/_/g, ' '))));
  const rows = el('tbody', { id: 'specs' });
  const empty = el('p', { id: 'specs-empty', class: 'empty', hidden: true }, 'No specs yet. Create one with `omoi spec create --repo … --goal …` or POST /api/specs.');
  root.append(
    el('h2', {}, 'Specs'),
    el('label', { class: 'filter' }, 'status ', filter),
    status, error,
    el('div', { class: 'table-wrap' }, el('table', { class: 'list specs' },
      el('thead', {}, el('tr', {}, ...['spec', 'goal', 'status', 'phase', 'updated'].map((h) => el('th', { scope: 'col' }, h)))),
      rows)),
    empty,
  );

  let alive = true;
  const reload = coalesced(async () => {
    let list;
    try {
      const wanted = filter.value;
      ({ specs: list } = await api(`/api/specs?limit=200${wanted ? `&status=${encodeURIComponent(wanted)}` : ''}`));
    } catch (err) {
      if (err instanceof Unauthorized) return refused();
      if (!alive) return;
      error.textContent = `Specs could not be read: ${err.message}`;
      error.hidden = false;
      status.textContent = '';
      return;
    }
    if (!alive) return;
    error.hidden = true;
    status.textContent = '';
    empty.hidden = list.length > 0;
    rows.replaceChildren(...list.map((s) => el('tr', { class: 'spec-row', dataset: { spec: s.id, status: s.status } },
      el('td', { class: 'id' }, viewLink(s.id, 'specs', s.id)),
      el('td', { class: 'goal', title: s.goal }, s.title ? el('div', {}, s.title) : null, el('div', { class: s.title ? 'title' : '' }, clip(s.goal, GOAL_CHARS))),
      el('td', {}, badge(s.status)),
      el('td', { class: 'phase' }, s.phase),
      el('td', { title: s.updated_at }, `${age(s.updated_at)} ago`),
    )));
  });
  reload();
  const offReset = onReset(() => reload());
  return {
    onEvents(events) {
      if (events.some((e) => typeof e.type === 'string' && e.type.startsWith('spec.'))) reload();
    },
    unmount() {
      alive = false;
      offReset();
    },
  };
}

const clip = (text, n) => (String(text).length > n ? `${String(text).slice(0, n - 1)}…` : String(text));
