import { randomUUID } from 'node:crypto';
import type { OmoiNode } from '../src/bootstrap.ts';
import type { AckClock } from './ack-clock.ts';
import { bucketDelta, histogramQuantile, percentile, pipelined, type Buckets } from './stats.ts';

export interface EndToEndResult {
  command: string;
  messages: number;
  agents: number;
  window: number;
  publishSeconds: number;
  seconds: number;
  perSec: number;
  /** Outcomes counted by the node (`ok` expected for all). */
  outcomes: Record<string, number>;
  /** Rows of `omoi_processed_message` for the published ids (durably handled). */
  processedRows: number;
  /** pull → ack, from the node's histogram `omoi_handler_seconds` (bucket-interpolated). */
  handlerMs: { p50: number; p99: number };
  /** publish → ack of every message (ack clock). */
  publishToAckMs: { p50: number; p99: number; max: number; samples: number };
  /** publish → `processed_at` (start of the handling transaction) for a sample, ms clock. */
  publishToProcessedAtMs: { p50: number; p99: number; samples: number };
}

const COMMAND = 'agent.heartbeat';
const agentId = (i: number) => `bench-agent-${i}`;

/**
 * Message → actor → commit → ack through a real node: `agents` remote agents are registered
 * and warmed up (one heartbeat each, untimed), then `n` `agent.heartbeat` commands are
 * submitted with `window` in flight, round-robin over the agents. Each heartbeat makes the
 * AgentActor update `omoi_agent.last_heartbeat_at` in the partition's transaction.
 * Throughput is n / (first publish → last message handled, per the node's counter
 * `omoi_messages_handled_total`). Fails if the node does not handle them within `timeoutMs`.
 */
export async function endToEnd(
  node: OmoiNode, clock: AckClock,
  opts: { n: number; agents: number; window: number; sample: number; timeoutMs: number; progress: (line: string) => void },
): Promise<EndToEndResult> {
  const { n, agents, window, progress } = opts;
  const sql = (q: string, params: unknown[] = []) => node.db.em().getConnection().execute(q, params) as Promise<Array<Record<string, unknown>>>;

  progress(`e2e: registering ${agents} agents (untimed)`);
  await pipelined(agents, window, (i) => node.submit('agent.register', {
    agent_id: agentId(i), name: `bench agent ${i}`, phase: 'execute', capabilities: ['bench'], version: '1.0.0', kind: 'remote', capacity: 1,
  }));
  await waitFor(async () => Number((await sql(`select count(*)::int as c from omoi_agent where id like 'bench-agent-%'`))[0].c) >= agents, opts.timeoutMs, 'agents registered');
  progress('e2e: warm-up heartbeat per agent (untimed)');
  const before0 = await handledCount(node);
  await pipelined(agents, window, (i) => node.submit(COMMAND, { agent_id: agentId(i) }));
  await waitFor(async () => (await handledCount(node)) - before0 >= agents, opts.timeoutMs, 'warm-up heartbeats handled');
  const healthy = Number((await sql(`select count(*)::int as c from omoi_agent where id like 'bench-agent-%' and status = 'healthy'`))[0].c);
  if (healthy !== agents) throw new Error(`warm-up: ${healthy}/${agents} bench agents are healthy`);

  const before = await handledCount(node);
  const beforeOutcomes = await outcomes(node);
  const bucketsBefore = await handlerBuckets(node);
  const ids = Array.from({ length: n }, () => randomUUID());
  const publishedAt = new Float64Array(n);
  const publishedWall = new Float64Array(n);
  for (const id of ids) clock.watch(id);

  progress(`e2e: submitting ${n} ${COMMAND} over ${agents} agents (window ${window})`);
  const t0 = performance.now();
  let handledAt = 0;
  const poller = (async () => {
    const deadline = t0 + opts.timeoutMs;
    let last = 0;
    for (;;) {
      const done = (await handledCount(node)) - before;
      if (done >= n) { handledAt = performance.now(); return; }
      if (performance.now() > deadline) throw new Error(`end-to-end: only ${done}/${n} messages handled after ${opts.timeoutMs} ms`);
      if (done - last >= 1000) { progress(`e2e: handled ${done}/${n}`); last = done - (done % 1000); }
      await sleep(5);
    }
  })();
  await pipelined(n, window, (i) => {
    publishedAt[i] = performance.now();
    publishedWall[i] = Date.now();
    return node.submit(COMMAND, { agent_id: agentId(i % agents) }, { id: ids[i] });
  });
  const publishSeconds = (performance.now() - t0) / 1000;
  progress(`e2e: all ${n} published in ${publishSeconds.toFixed(2)} s; waiting for the node`);
  await poller;
  await node.idle();

  // The precise end: the last ack seen by the ack clock (the poller adds up to one poll period).
  const acks: number[] = [];
  let lastAck = 0;
  for (let i = 0; i < n; i++) {
    const at = clock.ackedAt(ids[i]);
    if (at === undefined) continue;
    acks.push(at - publishedAt[i]);
    lastAck = Math.max(lastAck, at);
  }
  const end = acks.length === n ? lastAck : handledAt;
  const seconds = (end - t0) / 1000;

  const processedRows = Number((await sql(`select count(*)::int as c from omoi_processed_message where message_id in (?)`, [ids]))[0].c);
  const step = Math.max(1, Math.floor(n / opts.sample));
  const sampleIdx = Array.from({ length: Math.ceil(n / step) }, (_, k) => k * step);
  const rows = await sql(`select message_id, processed_at from omoi_processed_message where message_id in (?)`, [sampleIdx.map((i) => ids[i])]);
  const processedAt = new Map(rows.map((r) => [String(r.message_id), new Date(r.processed_at as string).getTime()]));
  const toProcessed = sampleIdx.filter((i) => processedAt.has(ids[i])).map((i) => processedAt.get(ids[i])! - publishedWall[i]);

  const buckets = bucketDelta(await handlerBuckets(node), bucketsBefore);
  const afterOutcomes = await outcomes(node);
  const delta: Record<string, number> = {};
  for (const [k, v] of Object.entries(afterOutcomes)) if (v - (beforeOutcomes[k] ?? 0)) delta[k] = v - (beforeOutcomes[k] ?? 0);

  return {
    command: COMMAND, messages: n, agents, window, publishSeconds, seconds, perSec: n / seconds,
    outcomes: delta, processedRows,
    handlerMs: { p50: histogramQuantile(buckets, 0.5) * 1000, p99: histogramQuantile(buckets, 0.99) * 1000 },
    publishToAckMs: { p50: percentile(acks, 50), p99: percentile(acks, 99), max: Math.max(...acks), samples: acks.length },
    publishToProcessedAtMs: { p50: percentile(toProcessed, 50), p99: percentile(toProcessed, 99), samples: toProcessed.length },
  };
}

async function outcomes(node: OmoiNode): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await node.metrics.handled.get()).values) {
    if (v.labels.type === COMMAND) out[String(v.labels.outcome)] = (out[String(v.labels.outcome)] ?? 0) + v.value;
  }
  return out;
}

/** Heartbeats the node finished with, whatever the outcome (so a rejection cannot hang the bench). */
async function handledCount(node: OmoiNode): Promise<number> {
  return Object.values(await outcomes(node)).reduce((a, b) => a + b, 0);
}

async function handlerBuckets(node: OmoiNode): Promise<Buckets> {
  const out: Buckets = new Map();
  for (const v of (await node.metrics.latency.get()).values) {
    if (v.metricName !== 'omoi_handler_seconds_bucket' || v.labels.type !== COMMAND) continue;
    const bound = (v.labels as Record<string, string | number | undefined>).le;
    const le = bound === '+Inf' ? Infinity : Number(bound);
    out.set(le, v.value);
  }
  return out;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(20);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
