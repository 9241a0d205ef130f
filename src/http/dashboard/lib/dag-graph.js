// A ticket's DAG as a graph to draw: its nodes (tasks, joins, groups of alike siblings), its edges,
// and its critical path. Pure data, no DOM: views/ticket-graph.js lays it out and draws it.

/** Siblings with the same dependencies and dependants are drawn as one group node above this many. */
export const GROUP_THRESHOLD = 12;

/** The order statuses are counted and listed in (a group's counts, the legend). */
export const TASK_STATUSES = ['pending', 'waiting_for_files', 'ready', 'assigned', 'running', 'completed', 'failed', 'blocked', 'cancelled'];
export const JOIN_STATUSES = ['collecting', 'merging', 'merged', 'blocked'];
export const OPEN_TASK = new Set(['pending', 'ready', 'waiting_for_files', 'assigned', 'running', 'blocked']);

/** What the critical path counts for a task that has not run (pending, ready, blocked, ...): one second. */
export const UNIT_MS = 1000;

const taskKey = (id) => `task:${id}`;
const joinKey = (id) => `join:${id}`;

/**
 * `detail` (GET /api/tickets/:id) → `{ nodes, edges, critical, structureKey }`.
 * - nodes: `{ key, kind: 'task' | 'join' | 'group', ... }` in a stable order (tasks as listed, then joins);
 *   a group is `{ key, kind: 'group', id, members: [task], expanded, counts }`.
 * - edges: `{ key, from, to }` between node keys (a task feeding a join, a join its continuation,
 *   a task its dependant); edges into or out of a group's members go to the group, once.
 * - critical: the node keys and edge keys on the longest path by duration (see `durationMs`).
 * - structureKey: equal for two details exactly when they draw the same nodes and edges, so
 *   only a change of it needs a new layout (statuses alone are recoloured in place).
 * `expanded`: the ids of groups shown with their members.
 */
export function graphModel(detail, expanded = new Set(), now = Date.now()) {
  const tasks = detail.tasks || [];
  const joins = detail.joins || [];
  const known = new Set(tasks.map((t) => t.id));
  const joinOf = new Map(joins.filter((j) => known.has(j.continuation)).map((j) => [j.continuation, j]));

  // Edges of the full graph, task by task: through its join when it has one.
  const full = [];
  for (const t of tasks) {
    const join = joinOf.get(t.id);
    const deps = (t.depends_on || []).filter((d) => known.has(d));
    if (join) {
      const sources = (join.sources || []).filter((s) => known.has(s));
      for (const s of sources) full.push([taskKey(s), joinKey(join.id)]);
      for (const d of deps) if (!sources.includes(d)) full.push([taskKey(d), taskKey(t.id)]);
      full.push([joinKey(join.id), taskKey(t.id)]);
    } else {
      for (const d of deps) full.push([taskKey(d), taskKey(t.id)]);
    }
  }

  // Groups: tasks whose incoming and outgoing nodes are the same, more than GROUP_THRESHOLD of them.
  const preds = new Map();
  const succs = new Map();
  for (const [from, to] of full) {
    if (!succs.has(from)) succs.set(from, new Set());
    if (!preds.has(to)) preds.set(to, new Set());
    succs.get(from).add(to);
    preds.get(to).add(from);
  }
  const bySignature = new Map();
  for (const t of tasks) {
    const key = taskKey(t.id);
    const signature = `${[...(preds.get(key) || [])].sort().join('+')}>${[...(succs.get(key) || [])].sort().join('+')}`;
    if (!bySignature.has(signature)) bySignature.set(signature, []);
    bySignature.get(signature).push(t);
  }
  const groupOf = new Map();
  const groups = [];
  for (const [signature, members] of bySignature) {
    if (members.length <= GROUP_THRESHOLD) continue;
    // In the order people number them (F2 before F10), whatever order the rows came in.
    members.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
    const id = groupId(signature);
    const group = { key: `group:${id}`, kind: 'group', id, members, expanded: expanded.has(id), counts: countStatuses(members) };
    groups.push(group);
    for (const m of members) groupOf.set(taskKey(m.id), group);
  }

  // What is drawn: a collapsed group stands for its members; an expanded one holds them.
  const nodes = [];
  const placed = new Set();
  for (const t of tasks) {
    const group = groupOf.get(taskKey(t.id));
    if (group && !placed.has(group.key)) {
      placed.add(group.key);
      nodes.push(group);
    }
    if (!group) nodes.push({ key: taskKey(t.id), kind: 'task', id: t.id, task: t });
  }
  for (const j of joinOf.values()) nodes.push({ key: joinKey(j.id), kind: 'join', id: j.id, join: j, collected: Object.keys(j.completed || {}).length, of: (j.sources || []).length });
  const drawnKey = (key) => (groupOf.has(key) ? groupOf.get(key).key : key);
  const edges = [];
  const seen = new Set();
  for (const [from, to] of full) {
    const edge = { from: drawnKey(from), to: drawnKey(to) };
    edge.key = `${edge.from}->${edge.to}`;
    if (edge.from === edge.to || seen.has(edge.key)) continue;
    seen.add(edge.key);
    edges.push(edge);
  }

  const structureKey = JSON.stringify([
    detail.ticket && detail.ticket.id,
    nodes.map((n) => (n.kind === 'group' ? [n.key, n.expanded, n.members.map((m) => m.id)] : n.key)),
    edges.map((e) => e.key),
  ]);
  const critical = criticalPath(nodes, edges, now);
  // An expanded group on the path: its longest member is the one that holds the path up.
  for (const g of groups) {
    if (!g.expanded || !critical.nodes.has(g.key)) continue;
    const longest = g.members.reduce((a, b) => (durationMs(b, now) > durationMs(a, now) ? b : a));
    critical.nodes.add(taskKey(longest.id));
  }
  return { nodes, edges, critical, structureKey };
}

/**
 * How long a task counts on the critical path:
 * - completed or failed: its real duration, from becoming ready (`ready_since`, else created) to its last change;
 * - assigned or running: the time since it became ready, so far;
 * - anything that has not run (pending, waiting for files, ready, blocked, cancelled): one unit (UNIT_MS),
 *   so the path through work still to come is the one with the most steps.
 * Joins count nothing; a group counts its longest member (its members run side by side).
 */
export function durationMs(task, now = Date.now()) {
  const start = Date.parse(task.ready_since || task.created_at);
  const end = Date.parse(task.updated_at);
  if (Number.isNaN(start)) return UNIT_MS;
  if ((task.status === 'completed' || task.status === 'failed') && !Number.isNaN(end)) return Math.max(UNIT_MS, end - start);
  if (task.status === 'running' || task.status === 'assigned') return Math.max(UNIT_MS, now - start);
  return UNIT_MS;
}

/** The heaviest chain of nodes (by `durationMs`) from a node without predecessors to one without successors. */
export function criticalPath(nodes, edges, now = Date.now()) {
  const weight = new Map(nodes.map((n) => [n.key, n.kind === 'task' ? durationMs(n.task, now) : n.kind === 'group' ? Math.max(...n.members.map((m) => durationMs(m, now))) : 0]));
  const incoming = new Map(nodes.map((n) => [n.key, []]));
  const outgoing = new Map(nodes.map((n) => [n.key, []]));
  for (const e of edges) {
    if (!incoming.has(e.to) || !outgoing.has(e.from)) continue;
    incoming.get(e.to).push(e);
    outgoing.get(e.from).push(e);
  }
  // Kahn's order; a cycle (the server refuses those) leaves its nodes out rather than looping.
  const pending = new Map([...incoming].map(([k, list]) => [k, list.length]));
  const order = [...pending].filter(([, n]) => n === 0).map(([k]) => k);
  for (let i = 0; i < order.length; i++) {
    for (const e of outgoing.get(order[i])) {
      pending.set(e.to, pending.get(e.to) - 1);
      if (pending.get(e.to) === 0) order.push(e.to);
    }
  }
  const total = new Map();
  const via = new Map();
  for (const key of order) {
    let best = null;
    for (const e of incoming.get(key)) if (total.has(e.from) && (best === null || total.get(e.from) > total.get(best.from))) best = e;
    total.set(key, weight.get(key) + (best ? total.get(best.from) : 0));
    if (best) via.set(key, best);
  }
  let end = null;
  for (const key of order) if (end === null || total.get(key) > total.get(end)) end = key;
  const critical = { nodes: new Set(), edges: new Set(), ms: end === null ? 0 : total.get(end) };
  for (let key = end; key !== null;) {
    critical.nodes.add(key);
    const e = via.get(key);
    if (!e) break;
    critical.edges.add(e.key);
    key = e.from;
  }
  return critical;
}

/** `{ completed: 150, running: 30, ... }` in TASK_STATUSES order (unknown statuses last). */
export function countStatuses(tasks) {
  const counts = {};
  for (const s of TASK_STATUSES) counts[s] = 0;
  for (const t of tasks) counts[t.status] = (counts[t.status] || 0) + 1;
  for (const s of Object.keys(counts)) if (counts[s] === 0) delete counts[s];
  return counts;
}

/** "150 completed, 30 running, 20 pending" */
export function countsText(counts) {
  return Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ');
}

/** A group's id: its signature (incoming > outgoing node keys), readable when short. */
function groupId(signature) {
  const readable = signature.replace(/(task|join):/g, '');
  if (readable.length <= 80) return readable;
  let h = 0;
  for (let i = 0; i < signature.length; i++) h = (Math.imul(h, 31) + signature.charCodeAt(i)) | 0;
  return `${readable.slice(0, 60)}…${(h >>> 0).toString(36)}`;
}
