import v8 from 'node:v8';
import vm from 'node:vm';
import type { OmoiNode } from '../src/bootstrap.ts';
import { commandPublisher } from '../src/executor/index.ts';
import { sql, sleep, waitFor } from './dag-shared.ts';
import { pipelined } from './stats.ts';

export interface HeapResult {
  tickets: number;
  agents: number;
  /** Live entity actors (`omoi_live_actors`, all types) before and after hydration. */
  liveBefore: number;
  liveAfter: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  bytesPerActor: number;
  /** Per type: live actors added. */
  added: Record<string, number>;
  hydrateSeconds: number;
  insertSeconds: number;
}

/** A full, synchronous GC; works without `--expose-gc` on the command line. */
function gcFunction(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  v8.setFlagsFromString('--expose_gc');
  return vm.runInNewContext('gc') as () => void;
}

async function settledHeap(gc: () => void): Promise<number> {
  // Several rounds: weak callbacks and finalizers of one round free more in the next.
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage().heapUsed;
}

async function liveActors(node: OmoiNode): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await node.metrics.liveActors.get()).values) out[String(v.labels.actor)] = v.value;
  return out;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * (c) of the DAG bench: heap per idle actor. Inserts `tickets` completed tickets (one completed
 * task each) and `agents` healthy remote agents in bulk (SQL, untimed), then makes the node
 * hydrate each actor with one message (`ticket.wake`: the TicketActor loads its ticket and
 * tasks and finds nothing to do; `agent.heartbeat`: the AgentActor loads its row), waits until
 * the live-actor gauge shows them all, and compares `heapUsed` after full GCs before and after.
 * Actors stay live (passivation is 5 minutes by default) until the node stops; the agent rows
 * are marked `removed` afterwards (SQL) so later benchmarks never offer them tasks.
 */
export async function heapBench(node: OmoiNode, opts: { tickets: number; agents: number; window: number; timeoutMs: number; progress: (l: string) => void }): Promise<HeapResult> {
  const { tickets, agents, progress } = opts;
  const gc = gcFunction();
  const publish = commandPublisher(node.js, node.config.partitions, 'bench');
  const t0 = performance.now();
  await sql(node, `insert into omoi_ticket (id, title, repository, base_branch, base_commit, status, ownership, head, created_at, updated_at, version)
    select 'heap-t' || g, 'idle ticket ' || g, '/nonexistent/bench-repo', 'main', repeat('a', 40), 'completed', 'strict', repeat('b', 40), now(), now(), 1
    from generate_series(0, ? - 1) g`, [tickets]);
  await sql(node, `insert into omoi_task (ticket_id, id, spec, depends_on, owns, status, attempt, base_commit, commit, result, agent_id, created_at, updated_at, version)
    select 'heap-t' || g, 'A', jsonb_build_object('id', 'A', 'run', 'true', 'depends_on', '[]'::jsonb, 'owns', '[]'::jsonb, 'capabilities', '[]'::jsonb, 'phase', 'execute', 'priority', 0, 'kind', 'command', 'max_retries', 2, 'timeout_ms', 600000),
      '[]', '[]', 'completed', 1, repeat('a', 40), repeat('b', 40), '{}', 'local-bench', now(), now(), 1
    from generate_series(0, ? - 1) g`, [tickets]);
  await sql(node, `insert into omoi_agent (id, name, phase, capabilities, agent_version, kind, status, capacity, running, registered_at, last_heartbeat_at, restarts, updated_at, version)
    select 'heap-a' || g, 'idle agent ' || g, 'execute', '["heap-bench"]', '1.0.0', 'remote', 'healthy', 1, '[]', now(), now(), 0, now(), 1
    from generate_series(0, ? - 1) g`, [agents]);
  const insertSeconds = (performance.now() - t0) / 1000;
  progress(`heap: inserted ${tickets} tickets and ${agents} agents in ${insertSeconds.toFixed(2)} s`);

  await node.idle();
  const before = await liveActors(node);
  const heapBefore = await settledHeap(gc);
  progress(`heap: before ${(heapBefore / 2 ** 20).toFixed(1)} MiB, ${sum(before)} live actors; hydrating each by one message`);

  const h0 = performance.now();
  const total = tickets + agents;
  await pipelined(total, opts.window, (i) => i < tickets
    ? publish('ticket.wake', { ticket_id: `heap-t${i}` }, `heap-wake:${i}:${h0}`)
    : publish('agent.heartbeat', { agent_id: `heap-a${i - tickets}` }, `heap-hb:${i - tickets}:${h0}`));
  let last = 0;
  await waitFor('every idle actor live', async () => {
    const live = sum(await liveActors(node)) - sum(before);
    if (live - last >= 2000) { last = live; progress(`heap: ${live}/${total} actors live`); }
    return live >= total;
  }, opts.timeoutMs, 50);
  await node.idle();
  const hydrateSeconds = (performance.now() - h0) / 1000;
  const after = await liveActors(node);
  const heapAfter = await settledHeap(gc);
  const added: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0)) added[k] = v - (before[k] ?? 0);
  const liveAdded = sum(after) - sum(before);
  // Later benchmarks schedule tasks: these idle agents (remote, never running anything) must not
  // be offered work nor loaded by every assignment. Their actors stay live, untouched.
  await sql(node, `update omoi_agent set status = 'removed', reason = 'bench: heap benchmark done' where id like 'heap-a%'`);
  return {
    tickets, agents, liveBefore: sum(before), liveAfter: sum(after), heapBeforeBytes: heapBefore, heapAfterBytes: heapAfter,
    bytesPerActor: (heapAfter - heapBefore) / liveAdded, added, hydrateSeconds, insertSeconds,
  };
}
