// #/cluster: the nodes, who holds each partition (coloured by holder, with epoch and consumer lag),
// and the recent failovers. Reloaded every few seconds and at once when a node starts, stops or is
// lost (node.status, node.lost), so a node joining shows up with its partitions without a reload.
import { Unauthorized, api, refused } from '../lib/api.js';
import { age, badge, el, time } from '../lib/dom.js';
import { registerView } from '../lib/router.js';
import { repeat } from '../lib/repeat.js';

const REFRESH_MS = 2000;
/** Events after which the partitions move: reload soon (and again, as the others give theirs back). */
const CLUSTER_EVENTS = new Set(['node.status', 'node.lost']);
/** Holder colours (style.css `.owner-0` … `.owner-7`); more nodes than that share them. */
const OWNER_COLOURS = 8;

registerView({ pattern: '#/cluster', title: 'Cluster', nav: true, mount: mountCluster });

function mountCluster(root) {
  root.classList.add('page');
  const status = el('p', { id: 'cluster-status', class: 'muted', role: 'status' }, 'Loading…');
  const error = el('p', { id: 'cluster-error', class: 'error', role: 'alert', hidden: true });
  const nodes = el('tbody', { id: 'cluster-nodes' });
  const grid = el('div', { id: 'cluster-partitions', class: 'cluster-grid', role: 'list', 'aria-label': 'partitions' });
  const legend = el('p', { id: 'cluster-legend', class: 'cluster-legend' });
  const failovers = el('tbody', { id: 'cluster-failovers' });
  const noFailovers = el('p', { id: 'cluster-failovers-empty', class: 'empty', hidden: true }, 'No failovers recorded.');
  root.append(
    el('h2', {}, 'Cluster'),
    status, error,
    el('h3', {}, 'Nodes'),
    el('div', { class: 'scroll' }, el('table', { class: 'list cluster-nodes' },
      el('thead', {}, el('tr', {}, el('th', {}, 'node'), el('th', {}, 'status'), el('th', {}, 'partitions'), el('th', {}, 'last heartbeat'))),
      nodes)),
    el('h3', {}, 'Partitions'),
    legend, grid,
    el('h3', {}, 'Recent failovers'),
    el('div', { class: 'scroll' }, el('table', { class: 'list' },
      el('thead', {}, el('tr', {}, el('th', {}, 'when'), el('th', {}, 'partition'), el('th', {}, 'from'), el('th', {}, 'to'), el('th', {}, 'epoch'))),
      failovers)),
    noFailovers,
  );

  let alive = true;
  let soon = null;
  const colours = new Map();
  const colourOf = (node) => {
    if (!colours.has(node)) colours.set(node, colours.size % OWNER_COLOURS);
    return `owner-${colours.get(node)}`;
  };

  async function refresh() {
    try {
      const c = await api('/api/cluster');
      if (!alive) return;
      render(c);
      error.hidden = true;
      status.textContent = `${c.nodes.filter((n) => n.live).length} live node(s), ${c.partitions} partitions; ${c.lag ? `lag ${c.lag.total}` : `lag unknown${c.lag_error ? ` (${c.lag_error})` : ''}`}. Seen from ${c.node_id} at ${time(new Date().toISOString())}.`;
    } catch (err) {
      if (err instanceof Unauthorized) return refused();
      if (!alive) return;
      error.hidden = false;
      error.textContent = `Could not load the cluster: ${err.message}`;
    }
  }

  function render(c) {
    for (const n of [...c.nodes].sort((a, b) => (a.id < b.id ? -1 : 1))) colourOf(n.id);
    nodes.replaceChildren(...(c.nodes.length ? c.nodes.map((n) => el('tr', { dataset: { node: n.id, live: String(n.live) } },
      el('td', {}, el('span', { class: `swatch ${colourOf(n.id)}`, 'aria-hidden': 'true' }), el('span', { class: 'id' }, n.id), n.id === c.node_id ? el('span', { class: 'muted' }, ' (this node)') : null,
        n.http_url ? el('div', { class: 'title' }, n.http_url) : null),
      el('td', {}, badge(n.status), n.live ? null : el('div', { class: 'reason' }, 'not heartbeating')),
      el('td', { class: 'cluster-held' }, n.partitions.length ? `${n.partitions.length}: ${n.partitions.join(', ')}` : 'none'),
      el('td', { title: n.heartbeat_at }, `${age(n.heartbeat_at)} ago`),
    )) : [el('tr', {}, el('td', { colspan: 4, class: 'empty' }, 'No node has started yet.'))]));

    const now = Date.now();
    grid.replaceChildren(...c.leases.map((l) => {
      const owner = l.held ? l.node_id : null;
      const lag = l.lag ? l.lag.pending + l.lag.ack_pending : null;
      return el('div', {
        class: `cluster-partition ${owner ? colourOf(owner) : 'unowned'}`, role: 'listitem', tabindex: 0,
        dataset: { partition: l.partition, owner: owner || '' },
        title: `partition ${l.partition}: ${owner ? `held by ${owner}` : 'free'}, epoch ${l.epoch}, lease ${Date.parse(l.expires_at) > now ? 'expires' : 'expired'} ${time(l.expires_at)}${l.lag ? `, ${l.lag.pending} pending, ${l.lag.ack_pending} unacknowledged` : ''}`,
      },
      el('div', { class: 'cluster-partition-id' }, `#${l.partition}`),
      el('div', { class: 'cluster-partition-owner' }, owner || 'free'),
      el('div', { class: 'cluster-partition-meta' }, `e${l.epoch}`, lag === null ? '' : ` · lag ${lag}`));
    }));
    legend.replaceChildren(...[...colours.keys()].filter((id) => c.nodes.some((n) => n.id === id && n.partitions.length))
      .map((id) => el('span', { class: 'cluster-legend-item' }, el('span', { class: `swatch ${colourOf(id)}`, 'aria-hidden': 'true' }), id)));

    noFailovers.hidden = c.failovers.length > 0;
    failovers.replaceChildren(...c.failovers.map((f) => el('tr', { dataset: { partition: f.partition, from: f.from } },
      el('td', { title: f.at }, `${time(f.at)} (${age(f.at)} ago)`),
      el('td', {}, `#${f.partition}`),
      el('td', {}, f.from),
      el('td', {}, f.to),
      el('td', {}, String(f.epoch)),
    )));
  }

  const stop = repeat(REFRESH_MS, refresh);

  return {
    onEvents(events) {
      if (!events.some((e) => CLUSTER_EVENTS.has(e.type))) return;
      clearTimeout(soon);
      soon = setTimeout(refresh, 300);
    },
    unmount() {
      alive = false;
      stop();
      clearTimeout(soon);
    },
  };
}
