import { loadConfig } from '../../config/index.ts';
import { errorMessage } from '../../errors.ts';
import { CliError } from '../cli-error.ts';
import { DEFAULT_NODE_URL } from '../defaults.ts';
import { NodeFiles, readNodeFile } from '../node-files.ts';
import { textTable } from '../text-table.ts';

export interface StatusOptions {
  url?: string;
}

interface Readiness { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> }
interface Cluster {
  node_id: string;
  partitions: number;
  nodes: Array<{ id: string; status: string; heartbeat_at: string; http_url: string | null }>;
  leases: Array<{ partition: number; node_id: string | null; expires_at: string }>;
  lag?: { total: number; router: { pending: number; ack_pending: number }; partitions: Array<{ partition: number; pending: number; ack_pending: number }> } | null;
  lag_error?: string;
}
interface Tickets { tickets: Array<{ id: string; status: string; spend?: { cost_usd: number; wall_ms: number }; budget_exceeded?: boolean; delivery_status?: string | null }> }
interface BreakerList { breakers: Array<{ breaker: string; key: string; state: string; since: string; last_failure?: string }> }

/** Tickets counted by `omoi status` (the API's largest page: the newest ones). */
const TICKET_PAGE = 1000;

/**
 * `omoi status`: asks a node over HTTP for its readiness (`/readyz`), the cluster
 * (`/api/cluster`: nodes with the partitions each holds and the age of its last heartbeat,
 * and the lag of the JetStream consumers), the tickets by status and their spend, naming
 * those over budget (`/api/tickets`), this node's circuit breakers that are not closed
 * (`/api/breakers`) and the open alerts (`/api/alerts`),
 * and returns a small report plus whether the node is ready. The API token is
 * `OMOI_API_TOKEN`, else `<data dir>/api-token`. Throws `CliError` when no node answers at
 * the URL or the token is refused.
 */
export async function runStatus(opts: StatusOptions): Promise<{ report: string; ready: boolean }> {
  const base = (opts.url || DEFAULT_NODE_URL).replace(/\/+$/, '');
  if (!URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) throw new CliError(`--url ${JSON.stringify(base)} is not an http(s) URL`);
  const config = loadConfig(process.env);
  // Readiness needs no token: ask first, so "no node there" is said before "no token".
  const readiness = await get<Readiness>(base, '/readyz', undefined, [200, 503]);
  const tokenFile = NodeFiles.apiToken(config.dataDir);
  const token = config.apiToken ?? readNodeFile(tokenFile);
  if (!token) throw new CliError(`no API token: set OMOI_API_TOKEN, or run where OMOI_DATA_DIR points at the node's data directory (${tokenFile} does not exist)`);
  const cluster = await get<Cluster>(base, '/api/cluster', token);
  const tickets = await get<Tickets>(base, `/api/tickets?limit=${TICKET_PAGE}`, token);
  // This node's breakers (each node keeps its own); closed ones are not news.
  const breakers = (await get<BreakerList>(base, '/api/breakers', token)).breakers.filter((b) => b.state !== 'closed');
  const alerts = await get<{ open: Record<string, number> }>(base, '/api/alerts?status=open&limit=1', token);

  const now = Date.now();
  const held = new Map<string, number>();
  for (const lease of cluster.leases) {
    if (lease.node_id && Date.parse(lease.expires_at) > now) held.set(lease.node_id, (held.get(lease.node_id) ?? 0) + 1);
  }
  const unheld = cluster.partitions - [...held.values()].reduce((a, b) => a + b, 0);
  const byStatus = new Map<string, number>();
  for (const t of tickets.tickets) byStatus.set(t.status, (byStatus.get(t.status) ?? 0) + 1);

  const spent = tickets.tickets.reduce((a, t) => ({ cost: a.cost + (t.spend?.cost_usd ?? 0), wall: a.wall + (t.spend?.wall_ms ?? 0) }), { cost: 0, wall: 0 });
  const over = tickets.tickets.filter((t) => t.budget_exceeded && (t.status === 'open' || t.status === 'running')).map((t) => t.id);
  const spendLine = `$${spent.cost.toFixed(2)} · ${(spent.wall / 1000).toFixed(1)}s of attempts${over.length ? ` · over budget: ${over.slice(0, 5).join(', ')}${over.length > 5 ? ', …' : ''}` : ''}`;
  const checks = Object.entries(readiness.checks).map(([name, c]) => `${name} ${c.ok ? 'ok' : 'FAILING'}${c.detail ? ` (${c.detail})` : ''}`);
  const ticketLine = byStatus.size === 0
    ? 'none'
    : [...byStatus.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s} ${n}`).join(' · ')
      + (tickets.tickets.length >= TICKET_PAGE ? ` (newest ${TICKET_PAGE})` : '');
  const report = [
    `node        ${cluster.node_id} at ${base}: ${readiness.ready ? 'ready' : 'NOT READY'}`,
    `checks      ${checks.join(' · ')}`,
    `partitions  ${cluster.partitions}${unheld > 0 ? ` (${unheld} not leased)` : ''}`,
    `lag         ${lagLine(cluster)}`,
    `tickets     ${ticketLine}`,
    `spend       ${spendLine}`,
    `delivery    ${deliveryLine(tickets.tickets)}`,
    `breakers    ${breakers.length === 0 ? 'all closed' : breakers.map((b) => `${b.breaker} ${b.key} ${b.state.toUpperCase()}${b.last_failure ? ` (${b.last_failure.slice(0, 200)})` : ''}`).join(' · ')}`,
    `alerts      ${alertLine(alerts.open)}`,
    '',
    textTable(
      ['NODE', 'STATUS', 'PARTITIONS', 'HEARTBEAT', 'HTTP'],
      cluster.nodes.map((n) => [n.id, n.status, String(held.get(n.id) ?? 0), age(now - Date.parse(n.heartbeat_at)), n.http_url ?? '-']),
    ),
  ].join('\n');
  return { report, ready: readiness.ready };
}

/** Completed tickets' deliveries by status, naming those that wait for a person or failed (`omoi approve`, `omoi deliver`). */
function deliveryLine(tickets: Tickets['tickets']): string {
  const by = new Map<string, string[]>();
  for (const t of tickets) if (t.delivery_status) by.set(t.delivery_status, [...(by.get(t.delivery_status) ?? []), t.id]);
  const waiting = tickets.filter((t) => t.status === 'awaiting_approval').map((t) => t.id);
  if (by.size === 0 && waiting.length === 0) return 'none';
  const named = (ids: string[]) => `${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`;
  const parts = [...by.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([s, ids]) =>
    s === 'failed' || s === 'awaiting_approval' ? `${s} ${ids.length} (${named(ids)})` : `${s} ${ids.length}`);
  if (waiting.length) parts.unshift(`awaiting approval to run ${waiting.length} (${named(waiting)})`);
  return parts.join(' · ');
}

/** Open alerts in total, and by kind (`omoi alerts` lists them). */
function alertLine(open: Record<string, number>): string {
  const kinds = Object.entries(open).filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b));
  const total = kinds.reduce((sum, [, n]) => sum + n, 0);
  return total === 0 ? '0 open' : `${total} open (${kinds.map(([k, n]) => `${k} ${n}`).join(' · ')}): omoi alerts`;
}

/** Messages the consumers have not finished, in total and where most wait. */
function lagLine(cluster: Cluster): string {
  if (!cluster.lag) return `unknown${cluster.lag_error ? ` (${cluster.lag_error})` : ''}`;
  const { total, router, partitions } = cluster.lag;
  if (total === 0) return '0 messages waiting';
  const parts = partitions.map((p) => ({ p: p.partition, n: p.pending + p.ack_pending })).filter((p) => p.n > 0).sort((a, b) => b.n - a.n);
  const most = parts.slice(0, 3).map((p) => `${p.p}: ${p.n}`).join(', ');
  return `${total} messages waiting (router ${router.pending + router.ack_pending}${parts.length ? ` · partitions ${most}${parts.length > 3 ? ', …' : ''}` : ''})`;
}

/** `1.2s ago`, `3m ago`: how long since a heartbeat. */
function age(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

async function get<T>(base: string, path: string, token: string | undefined, accept: number[] = [200]): Promise<T> {
  let res: Response;
  try {
    res = await fetch(base + path, {
      headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? errorMessage(err);
    throw new CliError(`no node answering at ${base}: is \`omoi start\` running? (${cause})`);
  }
  if (res.status === 401) throw new CliError(`the node at ${base} refused the API token: set OMOI_API_TOKEN to the node's token`);
  const text = await res.text();
  if (!accept.includes(res.status)) throw new CliError(`GET ${base}${path} answered ${res.status}: ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CliError(`GET ${base}${path} did not answer JSON: is ${base} an Omoi node?`);
  }
}
