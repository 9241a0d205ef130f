// The selected ticket's DAG as a graph: tasks as nodes, dependencies as edges, each join as a small
// node between its sources and its continuation, status colours, the critical path outlined, and
// big fan-outs collapsed into group nodes. ELK (elkjs, served by the node at /vendor/, loaded on
// first use) lays it out; this module draws it as SVG. A live update that changes only statuses
// recolours the drawn elements in place (no new layout: no flicker; zoom, scroll and focus stay);
// only a change of nodes or edges (or a group opened or closed) is laid out again.
import { badge, el, svg } from '../lib/dom.js';
import { GROUP_THRESHOLD, JOIN_STATUSES, OPEN_TASK, TASK_STATUSES, countsText, graphModel } from '../lib/dag-graph.js';
import { navigate } from '../lib/router.js';

const ELK_URL = '/vendor/elk.bundled.js';
const ELK_WORKER_URL = '/vendor/elk-worker.min.js';
/** After a failed load, the library is asked for again no sooner than this. */
const ELK_RETRY_MS = 30_000;
const TASK = { w: 184, h: 58 };
const JOIN = { w: 184, h: 46 };
const GROUP = { w: 250, h: 66 };
/** An expanded group's header, above its members. */
const GROUP_HEADER = 34;
const MIN_ZOOM = 0.25;
const MAX_ZOOM = 2;

/** The drawing state of each container: what is drawn, and the elements to update in place. */
const states = new WeakMap();

let elk = null;
let elkFailedAt = 0;

/** The ELK instance; the script is injected once, when the first graph is drawn. */
function loadElk() {
  if (elk && !(elkFailedAt && Date.now() - elkFailedAt > ELK_RETRY_MS)) return elk;
  elkFailedAt = 0;
  elk = new Promise((resolve, reject) => {
    if (window.ELK) {
      resolve(layoutEngine(window.ELK));
      return;
    }
    const script = el('script', { src: ELK_URL });
    script.addEventListener('load', () => (window.ELK ? resolve(layoutEngine(window.ELK)) : reject(new Error(`${ELK_URL} did not define ELK`))));
    script.addEventListener('error', () => {
      script.remove();
      reject(new Error(`the layout library (${ELK_URL}) could not be loaded`));
    });
    document.head.append(script);
  });
  elk.catch(() => { elkFailedAt = Date.now(); });
  return elk;
}

/**
 * `{ layout(graph) }`: ELK in a Web Worker, so a big layout never freezes the page; on the page's
 * own thread when the worker cannot start or dies (elkjs gives no answer then: its error is
 * watched here, and the layout asked again of the in-page engine).
 */
function layoutEngine(ELK) {
  let inPage = null;
  const onPage = (graph) => (inPage ??= new ELK()).layout(graph);
  let broken = false;
  let failed = () => {};
  const workerFailed = new Promise((_, reject) => { failed = reject; });
  workerFailed.catch(() => {});
  let engine;
  try {
    engine = new ELK({
      workerFactory: () => {
        const worker = new Worker(ELK_WORKER_URL);
        worker.addEventListener('error', (e) => {
          e.preventDefault();
          broken = true;
          worker.terminate();
          failed(new Error('the layout worker failed'));
        });
        return worker;
      },
    });
  } catch {
    return { layout: onPage };
  }
  return {
    layout(graph) {
      if (broken) return onPage(graph);
      return Promise.race([engine.layout(graph), workerFailed]).catch((err) => {
        if (broken) return onPage(graph);
        throw err;
      });
    },
  };
}

/**
 * Draws `detail` (GET /api/tickets/:id) into `container`, or updates what is drawn there.
 * `options.cancelTask(taskId)` is the cancel button's action; `options.fallback(target)` renders
 * the tasks without the graph (into `target`) when the layout cannot be had; `options.taskHref(taskId)`
 * (optional) is where a task's node leads, null for nowhere. Never throws.
 */
export function renderGraph(container, detail, options) {
  let st = states.get(container);
  if (!st) {
    st = initState(container);
    states.set(container, st);
  }
  st.detail = detail;
  st.options = options;
  return draw(st);
}

function initState(container) {
  const st = {
    container, detail: null, options: {}, ticketId: null,
    /** The structure drawn now, and the one being laid out. */
    structureKey: null, layingOut: null, generation: 0,
    nodeViews: new Map(), edgeViews: new Map(), svgEl: null, size: { w: 0, h: 0 }, zoom: 1,
    /** Per ticket: the ids of the groups shown open. */
    expanded: new Map(),
  };
  const zoomBy = (f) => setZoom(st, st.zoom * f);
  st.status = el('p', { class: 'graph-status muted', role: 'status' });
  st.error = el('p', { class: 'graph-error error', role: 'alert', hidden: true });
  st.summary = el('span', { class: 'graph-summary muted' });
  st.toolbar = el('div', { class: 'graph-toolbar', hidden: true },
    el('button', { type: 'button', class: 'graph-zoom-out', 'aria-label': 'zoom out', onclick: () => zoomBy(1 / 1.25) }, '−'),
    el('button', { type: 'button', class: 'graph-zoom-in', 'aria-label': 'zoom in', onclick: () => zoomBy(1.25) }, '+'),
    el('button', { type: 'button', class: 'graph-zoom-fit', 'aria-label': 'fit the graph to the width', onclick: () => setZoom(st, fitZoom(st)) }, 'fit'),
    st.summary);
  st.viewport = el('div', { class: 'graph-viewport', hidden: true });
  st.legend = legend();
  st.fallbackBox = el('div', { class: 'graph-fallback dag', hidden: true });
  container.className = 'graph-box';
  container.replaceChildren(st.toolbar, st.status, st.error, st.viewport, st.legend, st.fallbackBox);
  return st;
}

async function draw(st) {
  const detail = st.detail;
  const ticketId = detail.ticket.id;
  if (st.ticketId !== ticketId) {
    // Another ticket: nothing of the last one stays on screen while this one is laid out.
    st.generation++;
    st.ticketId = ticketId;
    st.structureKey = null;
    st.layingOut = null;
    clearDrawing(st);
  }
  const model = graphModel(detail, expandedOf(st));
  if (model.nodes.length === 0) {
    st.generation++;
    st.structureKey = null;
    st.layingOut = null;
    clearDrawing(st);
    setStatus(st, 'This ticket has no tasks.');
    return;
  }
  if (model.structureKey === st.structureKey) {
    updateInPlace(st, model);
    return;
  }
  // The layout under way is of this structure: it draws the newest detail when it is done.
  if (model.structureKey === st.layingOut) return;
  st.layingOut = model.structureKey;
  const generation = ++st.generation;
  if (!st.svgEl) setStatus(st, `Laying out ${detail.tasks.length} task${detail.tasks.length === 1 ? '' : 's'}…`);
  try {
    const engine = await loadElk();
    const layout = await engine.layout(elkGraph(model));
    if (generation !== st.generation) return;
    // The newest detail of this structure (statuses may have moved on while ELK worked).
    const newest = graphModel(st.detail, expandedOf(st));
    drawLayout(st, newest.structureKey === model.structureKey ? newest : model, layout);
  } catch (err) {
    if (generation !== st.generation) return;
    showFallback(st, err);
  } finally {
    if (generation === st.generation) st.layingOut = null;
  }
}

const expandedOf = (st) => st.expanded.get(st.ticketId) || new Set();

function setStatus(st, text) {
  st.status.textContent = text;
  st.status.hidden = !text;
}

function clearDrawing(st) {
  st.viewport.replaceChildren();
  st.viewport.hidden = true;
  st.toolbar.hidden = true;
  st.svgEl = null;
  st.nodeViews.clear();
  st.edgeViews.clear();
  st.error.hidden = true;
  st.fallbackBox.hidden = true;
  st.fallbackBox.replaceChildren();
}

/** The error state: what went wrong, and the tasks by dependency depth (the view before the graph). */
function showFallback(st, err) {
  clearDrawing(st);
  st.structureKey = null;
  setStatus(st, '');
  st.error.textContent = `The graph could not be drawn (${err && err.message ? err.message : err}); the tasks by dependency depth instead.`;
  st.error.hidden = false;
  st.fallbackBox.hidden = false;
  if (st.options.fallback) st.options.fallback(st.fallbackBox);
}

// ---- layout ----------------------------------------------------------------------------------

function elkGraph(model) {
  return {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.spacing.nodeNode': '16',
      'elk.layered.spacing.nodeNodeBetweenLayers': '34',
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      'elk.padding': '[top=10,left=10,bottom=10,right=10]',
    },
    children: model.nodes.map(elkNode),
    edges: model.edges.map((e) => ({ id: e.key, sources: [e.from], targets: [e.to] })),
  };
}

function elkNode(node) {
  if (node.kind === 'task') return { id: node.key, width: TASK.w, height: TASK.h };
  if (node.kind === 'join') return { id: node.key, width: JOIN.w, height: JOIN.h };
  if (!node.expanded) return { id: node.key, width: GROUP.w, height: GROUP.h };
  // An open group: its members packed in rows inside it (they share every edge, which goes to the group).
  return {
    id: node.key,
    layoutOptions: {
      'elk.algorithm': 'box',
      'elk.padding': `[top=${GROUP_HEADER + 6},left=10,bottom=10,right=10]`,
      'elk.spacing.nodeNode': '10',
      'elk.aspectRatio': '1.8',
    },
    // Packed in the tasks' order: the box algorithm places higher priorities first.
    children: node.members.map((m, i) => ({ id: `task:${m.id}`, width: TASK.w, height: TASK.h, layoutOptions: { 'elk.priority': String(node.members.length - i) } })),
  };
}

// ---- drawing ---------------------------------------------------------------------------------

function drawLayout(st, model, layout) {
  const sameTicket = st.svgEl !== null;
  const scroll = { left: st.viewport.scrollLeft, top: st.viewport.scrollTop };
  const active = document.activeElement;
  const focusKey = active && st.viewport.contains(active) && active.closest('[data-key]') ? active.closest('[data-key]').getAttribute('data-key') : null;

  st.nodeViews.clear();
  st.edgeViews.clear();
  const byKey = new Map(model.nodes.map((n) => [n.key, n]));
  const edges = svg('g', { class: 'graph-edges' });
  for (const e of layout.edges || []) {
    const path = svg('path', { class: 'graph-edge', d: edgePath(e), 'data-edge': e.id });
    st.edgeViews.set(e.id, path);
    edges.append(path);
  }
  const nodes = svg('g', { class: 'graph-nodes' });
  for (const child of layout.children || []) {
    const node = byKey.get(child.id);
    if (node) nodes.append(nodeView(st, node, child));
  }
  st.size = { w: Math.ceil(layout.width || 0), h: Math.ceil(layout.height || 0) };
  st.svgEl = svg('svg', {
    class: 'graph', viewBox: `0 0 ${st.size.w} ${st.size.h}`, role: 'group', 'aria-label': `DAG of ticket ${st.ticketId}`,
  }, arrowMarkers(), edges, nodes);

  st.viewport.replaceChildren(st.svgEl);
  st.viewport.hidden = false;
  st.toolbar.hidden = false;
  st.error.hidden = true;
  st.fallbackBox.hidden = true;
  st.fallbackBox.replaceChildren();
  setStatus(st, '');
  st.structureKey = model.structureKey;
  setZoom(st, sameTicket ? st.zoom : Math.min(1, fitZoom(st)));
  updateInPlace(st, model);
  if (sameTicket) {
    st.viewport.scrollLeft = scroll.left;
    st.viewport.scrollTop = scroll.top;
  }
  if (focusKey) {
    const again = st.viewport.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
    // Scrolled to only when it was opened or closed (its place moved under the reader's eyes).
    if (again) again.focus({ preventScroll: !st.reveal });
  }
  st.reveal = false;
}

function arrowMarkers() {
  const marker = (id) => svg('marker', { id, class: id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerUnits: 'userSpaceOnUse', markerWidth: 9, markerHeight: 9, orient: 'auto-start-reverse' },
    svg('path', { d: 'M0,0 L10,5 L0,10 z' }));
  return svg('defs', {}, marker('graph-arrow'), marker('graph-arrow-critical'));
}

function edgePath(edge) {
  const points = [];
  for (const s of edge.sections || []) points.push(s.startPoint, ...(s.bendPoints || []), s.endPoint);
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${round(p.x)},${round(p.y)}`).join(' ');
}

const round = (n) => Math.round(n * 10) / 10;
const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const words = (status) => String(status).replace(/_/g, ' ');
const statusClass = (status) => `status-${String(status).replace(/[^a-z_]/gi, '')}`;

function nodeView(st, node, box) {
  const at = { transform: `translate(${round(box.x)},${round(box.y)})` };
  if (node.kind === 'task') return taskView(st, node, at);
  if (node.kind === 'join') return joinView(st, node, at);
  return groupView(st, node, box, at);
}

/** A task: id, status, title (or why it is blocked); a link to its page; cancel while it is open. */
function taskView(st, node, at) {
  const ticketId = st.ticketId;
  const id = node.id;
  const tip = svg('title');
  const idText = svg('text', { class: 'graph-id', x: 12, y: 18 });
  const statusText = svg('text', { class: 'graph-status-text', x: 12, y: 34 });
  const line3 = svg('text', { class: 'graph-title', x: 12, y: 50 });
  // `options.taskHref` may say where a task leads, or null: a planned task (a spec's TASKS) has no page yet.
  const href = st.options.taskHref ? st.options.taskHref(id) : `#/tickets/${encodeURIComponent(ticketId)}/tasks/${encodeURIComponent(id)}`;
  const link = svg('a', { class: 'graph-link', href, tabindex: href ? 0 : null, 'data-key': node.key },
    tip,
    svg('rect', { class: 'graph-halo', x: -4, y: -4, width: TASK.w + 8, height: TASK.h + 8, rx: 9 }),
    svg('rect', { class: 'graph-shape', width: TASK.w, height: TASK.h, rx: 6 }),
    svg('rect', { class: 'graph-stripe', width: 5, height: TASK.h, rx: 2 }),
    idText, statusText, line3);
  link.addEventListener('keydown', (e) => {
    if (e.key !== ' ' || !href) return;
    e.preventDefault();
    navigate(href);
  });
  const g = svg('g', { ...at, 'data-task': id }, link);
  /** The node's one action button: cancel while the task is open, retry once it failed or was cancelled. */
  let action = null;
  st.nodeViews.set(node.key, {
    update(n, critical) {
      const t = n.task;
      const title = String((t.spec && (t.spec.title || t.spec.run)) || '');
      const trouble = (t.status === 'blocked' || t.status === 'failed') && t.reason;
      g.setAttribute('class', `graph-node graph-task task ${statusClass(t.status)}${critical ? ' critical' : ''}`);
      g.setAttribute('data-status', t.status);
      idText.textContent = clip(t.id, 22);
      statusText.textContent = `${words(t.status)}${t.attempt > 1 ? ` · attempt ${t.attempt}` : ''}`;
      line3.textContent = trouble ? clip(`⚠ ${t.reason}`, 28) : clip(title, 28);
      line3.setAttribute('class', trouble ? 'graph-title graph-reason' : 'graph-title');
      const about = [`task ${t.id}`, words(t.status), title, t.reason && `reason: ${t.reason}`, t.agent_id && `agent ${t.agent_id}`,
        t.retried_by && `retried by ${t.retried_by}${t.retry_reason ? `: ${t.retry_reason}` : ''}`,
        (t.depends_on || []).length ? `after ${t.depends_on.join(', ')}` : null, critical ? 'on the critical path' : null].filter(Boolean);
      tip.textContent = about.join('\n');
      link.setAttribute('aria-label', about.join(', '));
      const wanted = OPEN_TASK.has(t.status) ? 'cancel' : st.options.canRetry && st.options.canRetry(t) ? 'retry' : null;
      if (action && action.kind !== wanted) {
        action.node.remove();
        action = null;
      }
      if (wanted && !action) {
        const run = wanted === 'cancel' ? st.options.cancelTask : st.options.retryTask;
        action = { kind: wanted, node: svg('foreignObject', { class: 'graph-cancel', x: TASK.w - 62, y: 22, width: 56, height: 20 },
          el('button', { type: 'button', class: `${wanted}-task`, 'aria-label': `${wanted} task ${t.id}`, onclick: () => run && run(t.id) }, wanted)) };
        g.append(action.node);
      }
    },
  });
  return g;
}

/** A join: how many sources it collected, and where its merge stands; a link to its last merge attempt. */
function joinView(st, node, at) {
  const tip = svg('title');
  const idText = svg('text', { class: 'graph-id', x: JOIN.w / 2, y: 19, 'text-anchor': 'middle' });
  const stateText = svg('text', { class: 'graph-status-text graph-join-state', x: JOIN.w / 2, y: 35, 'text-anchor': 'middle' });
  const link = svg('a', { class: 'graph-link', 'data-key': node.key },
    tip,
    svg('rect', { class: 'graph-halo', x: -4, y: -4, width: JOIN.w + 8, height: JOIN.h + 8, rx: JOIN.h / 2 + 4 }),
    svg('rect', { class: 'graph-shape', width: JOIN.w, height: JOIN.h, rx: JOIN.h / 2 }),
    idText, stateText);
  const g = svg('g', { ...at, 'data-join': node.id }, link);
  st.nodeViews.set(node.key, {
    update(n, critical) {
      const j = n.join;
      const attempts = (st.detail.merge_attempts || []).filter((m) => m.join_id === j.id);
      const last = attempts[attempts.length - 1];
      const merge = j.status === 'merged' ? `merged${j.merge_commit ? ` ${String(j.merge_commit).slice(0, 7)}` : ''}`
        : j.status === 'blocked' ? `blocked: ${j.reason || 'no reason recorded'}`
          : j.status === 'merging' ? `merging${last ? ` (attempt ${last.attempt + 1})` : ''}` : words(j.status);
      g.setAttribute('class', `graph-node graph-join ${statusClass(j.status)}${critical ? ' critical' : ''}`);
      g.setAttribute('data-status', j.status);
      idText.textContent = clip(`${j.status === 'blocked' ? '⚠ ' : ''}${j.id}`, 22);
      stateText.textContent = clip(`${n.collected}/${n.of} · ${merge}`, 30);
      const about = [`join ${j.id} into ${j.continuation}`, `${n.collected} of ${n.of} sources collected`, merge,
        j.files && j.files.length ? `files: ${j.files.join(', ')}` : null, last ? `merge attempt ${last.attempt}: ${last.ok ? 'merged' : 'conflict'}` : null].filter(Boolean);
      tip.textContent = about.join('\n');
      link.setAttribute('aria-label', about.join(', '));
      // The merge attempts' page, once there is one to show.
      if (last) {
        link.setAttribute('href', `#/tickets/${encodeURIComponent(st.ticketId)}/joins/${encodeURIComponent(j.id)}/merges/${last.attempt}`);
        link.setAttribute('tabindex', '0');
      } else {
        link.removeAttribute('href');
        link.removeAttribute('tabindex');
      }
    },
  });
  return g;
}

/** Alike siblings as one node: how many, by status (a bar and words); opened, its members inside it. */
function groupView(st, node, box, at) {
  const w = node.expanded ? box.width : GROUP.w;
  const h = node.expanded ? box.height : GROUP.h;
  const tip = svg('title');
  const head = svg('text', { class: 'graph-id', x: 12, y: node.expanded ? 14 : 18 });
  const counts = svg('text', { class: 'graph-title', x: 12, y: node.expanded ? 28 : 58 });
  const bar = svg('g', { class: 'graph-bar', transform: 'translate(12,28)' });
  const toggle = svg('g', {
    class: 'graph-toggle', role: 'button', tabindex: 0, 'data-key': node.key, 'aria-expanded': String(node.expanded),
    onclick: () => toggleGroup(st, node.id), onkeydown: (e) => {
      if (e.key !== 'Enter' && e.key !== ' ') return;
      e.preventDefault();
      toggleGroup(st, node.id);
    },
  },
  tip,
  svg('rect', { class: 'graph-halo', x: -4, y: -4, width: w + 8, height: (node.expanded ? GROUP_HEADER : h) + 8, rx: 9 }),
  svg('rect', { class: 'graph-shape', width: w, height: node.expanded ? GROUP_HEADER : h, rx: 6 }),
  head, node.expanded ? null : bar, counts);
  const g = svg('g', { ...at, 'data-group': node.id, 'data-expanded': String(node.expanded) },
    node.expanded ? svg('rect', { class: 'graph-group-frame', width: w, height: h, rx: 8 }) : null,
    toggle);
  if (node.expanded) {
    for (const child of box.children || []) {
      const member = node.members.find((m) => `task:${m.id}` === child.id);
      if (member) g.append(taskView(st, { key: child.id, kind: 'task', id: member.id, task: member }, { transform: `translate(${round(child.x)},${round(child.y)})` }));
    }
  }
  st.nodeViews.set(node.key, {
    update(n, critical) {
      const worst = ['blocked', 'failed', 'running', 'assigned', 'ready', 'waiting_for_files', 'pending', 'completed', 'cancelled'].find((s) => n.counts[s]) || 'pending';
      g.setAttribute('class', `graph-node graph-group ${statusClass(worst)}${critical ? ' critical' : ''}`);
      g.setAttribute('data-count', String(n.members.length));
      const text = countsText(n.counts);
      head.textContent = `${n.members.length} tasks ${n.expanded ? '▾ collapse' : '▸ expand'}`;
      counts.textContent = clip(text, n.expanded ? Math.max(20, Math.floor(w / 6.5)) : 40);
      counts.setAttribute('data-counts', text);
      const first = n.members[0].id;
      const lastId = n.members[n.members.length - 1].id;
      const about = `${n.members.length} tasks (${first} … ${lastId}): ${text}; ${n.expanded ? 'collapse' : 'expand'}`;
      tip.textContent = about;
      toggle.setAttribute('aria-label', about);
      if (!n.expanded) {
        let x = 0;
        const width = GROUP.w - 24;
        bar.replaceChildren(...Object.entries(n.counts).map(([s, count]) => {
          const part = svg('rect', { class: `graph-bar-part ${statusClass(s)}`, x: round(x), y: 0, width: round((count / n.members.length) * width), height: 12 });
          x += (count / n.members.length) * width;
          return part;
        }));
      }
      if (n.expanded) {
        for (const m of n.members) {
          const view = st.nodeViews.get(`task:${m.id}`);
          if (view) view.update({ key: `task:${m.id}`, kind: 'task', id: m.id, task: m }, st.critical && st.critical.nodes.has(`task:${m.id}`));
        }
      }
    },
  });
  return g;
}

function toggleGroup(st, groupId) {
  const open = new Set(expandedOf(st));
  if (open.has(groupId)) open.delete(groupId);
  else open.add(groupId);
  st.expanded.set(st.ticketId, open);
  st.reveal = true;
  draw(st);
}

/** Statuses (and the critical path) of what is drawn, without a new layout. */
function updateInPlace(st, model) {
  st.critical = model.critical;
  for (const node of model.nodes) {
    const view = st.nodeViews.get(node.key);
    if (view) view.update(node, model.critical.nodes.has(node.key));
  }
  for (const [key, path] of st.edgeViews) {
    const critical = model.critical.edges.has(key);
    path.setAttribute('class', critical ? 'graph-edge critical' : 'graph-edge');
    path.setAttribute('marker-end', `url(#${critical ? 'graph-arrow-critical' : 'graph-arrow'})`);
  }
  const tasks = st.detail.tasks.length;
  const joins = (st.detail.joins || []).length;
  st.summary.textContent = `${tasks} task${tasks === 1 ? '' : 's'}, ${joins} join${joins === 1 ? '' : 's'} · critical path ${seconds(model.critical.ms)}`;
}

function seconds(ms) {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

function fitZoom(st) {
  const width = st.viewport.clientWidth || st.container.clientWidth || st.size.w;
  return st.size.w ? width / st.size.w : 1;
}

function setZoom(st, zoom) {
  st.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));
  if (!st.svgEl) return;
  st.svgEl.setAttribute('width', String(Math.round(st.size.w * st.zoom)));
  st.svgEl.setAttribute('height', String(Math.round(st.size.h * st.zoom)));
}

function legend() {
  const swatch = (kind, status) => el('li', {}, el('span', { class: `graph-swatch ${kind} ${statusClass(status)}` }), words(status));
  return el('details', { class: 'graph-legend' },
    el('summary', {}, 'Legend'),
    el('p', {}, 'Tasks: ', ...TASK_STATUSES.map((s) => [badge(s), ' ']).flat()),
    el('ul', { class: 'graph-legend-joins' }, el('li', {}, 'Joins (between their sources and the continuation):'), ...JOIN_STATUSES.map((s) => swatch('join', s))),
    el('p', {}, el('span', { class: 'graph-swatch critical' }),
      'Critical path: the longest chain by duration (completed: real time; running: so far; not yet run: 1 s each). ',
      `More than ${GROUP_THRESHOLD} alike siblings are drawn as one group; click it (or Enter) to open or close it.`),
  );
}
