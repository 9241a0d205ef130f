/**
 * What signing remote agents' messages costs (src/protocol/agent-signature.ts):
 *
 *   (a) signing and verifying one agent message (an `agent.heartbeat` body), median µs over `n`;
 *   (b) through one node, `n` signed `agent.heartbeat`s on `omoi.in` (over `agents` registered
 *       agents) against `n` unsigned `ticket.cancel`s of the same size (each of its own open
 *       ticket without tasks, inserted beforehand: one row written and one event, as a
 *       heartbeat writes its agent's row): messages/s routed to their partitions (the router's
 *       `routed` count) and handled end to end (the actor's commit). The router checks each
 *       signed message: key (cached a second), signature, time, and a row in
 *       `omoi_agent_message` (the replay check).
 *
 * Standalone: `node --import tsx bench/agent-signature.ts [n]` (one node of its own); `npm run bench` runs it too.
 */
import { createPrivateKey, randomUUID } from 'node:crypto';
import { headers } from '@nats-io/nats-core';
import type { OmoiNode } from '../src/bootstrap.ts';
import { generateAgentKeyPair } from '../src/http/agent-keys.ts';
import { publicKeyOf, readAgentHeaders, signAgentMessage, verifyAgentMessage } from '../src/protocol/index.ts';
import { percentile, pipelined, round } from './stats.ts';

export interface AgentSignatureResult {
  micro: { n: number; bodyBytes: number; signUsP50: number; verifyUsP50: number; signUsP99: number; verifyUsP99: number };
  ingress: {
    n: number; agents: number; window: number;
    signedRoutedPerSec: number; unsignedRoutedPerSec: number; signedEndToEndPerSec: number; unsignedEndToEndPerSec: number;
    /** Router time per message, signed minus unsigned, µs. */
    extraUsPerMessage: number;
    signedOutcomes: Record<string, number>;
  };
}

export async function agentSignatureBench(node: OmoiNode, opts: { n: number; agents: number; window: number; timeoutMs: number; progress: (line: string) => void }): Promise<AgentSignatureResult> {
  const { n, window, progress } = opts;

  // (a) sign and verify, one message at a time.
  const keys = generateAgentKeyPair();
  const publicKey = publicKeyOf(keys.publicKey, 'bench');
  const privateKey = createPrivateKey(keys.privateKey); // parsed once, as an agent keeps it
  const body = JSON.stringify({ agent_id: 'sig-bench-agent-0001' });
  const signUs: number[] = [];
  const verifyUs: number[] = [];
  for (let i = 0; i < n; i++) {
    const subject = 'omoi.in.agent.heartbeat';
    const s0 = performance.now();
    const h = signAgentMessage({ subject, body, msgId: `m-${i}`, agentId: 'sig-bench-agent-0001', privateKey });
    const s1 = performance.now();
    verifyAgentMessage({ subject, body, claim: readAgentHeaders((name) => (h as Record<string, string>)[name]), publicKey, now: new Date(), maxAgeMs: 300_000 });
    const s2 = performance.now();
    signUs.push((s1 - s0) * 1000);
    verifyUs.push((s2 - s1) * 1000);
  }
  const micro = {
    n, bodyBytes: Buffer.byteLength(body),
    signUsP50: round(percentile(signUs, 50), 1), verifyUsP50: round(percentile(verifyUs, 50), 1),
    signUsP99: round(percentile(signUs, 99), 1), verifyUsP99: round(percentile(verifyUs, 99), 1),
  };
  progress(`signatures: sign ${micro.signUsP50} µs, verify ${micro.verifyUsP50} µs (median of ${n})`);

  // (b) through the ingress router. Agents registered through the node (untimed), each with its key.
  const agents = Array.from({ length: opts.agents }, (_, i) => ({ id: `sig-bench-${String(i).padStart(4, '0')}`, keys: generateAgentKeyPair() }));
  await pipelined(agents.length, window, (i) => node.submit('agent.register', {
    agent_id: agents[i]!.id, name: agents[i]!.id, phase: 'execute', capabilities: ['sig-bench'], version: '1.0.0', kind: 'remote', capacity: 1, public_key: agents[i]!.keys.publicKey,
  }));
  await until(async () => Number((await node.db.em().getConnection().execute(`select count(*)::int as c from omoi_agent where id like 'sig-bench-%'`))[0].c) >= agents.length, opts.timeoutMs, 'bench agents registered');
  // Each agent keeps its private key parsed, as a long-running agent would.
  const privateKeys = agents.map((a) => createPrivateKey(a.keys.privateKey));
  const signedHeartbeat = (i: number) => {
    const a = agents[i % agents.length]!;
    const subject = 'omoi.in.agent.heartbeat';
    const data = JSON.stringify({ agent_id: a.id });
    const h = headers();
    for (const [k, v] of Object.entries(signAgentMessage({ subject, body: data, msgId: randomUUID(), agentId: a.id, privateKey: privateKeys[i % agents.length]! }))) h.set(k, v);
    return node.js.publish(subject, data, { headers: h });
  };
  // Same-size unsigned commands: `{"ticket_id":"sig-bench-t00000"}` vs `{"agent_id":"sig-bench-0000"}`.
  const ticketId = (i: number) => `sig-bench-t${String(i).padStart(5, '0')}`;
  await node.db.em().getConnection().execute(`insert into omoi_ticket (id, title, repository, base_branch, base_commit, status, ownership, created_at, updated_at, version)
    select 'sig-bench-t' || lpad(g::text, 5, '0'), 'signature bench', '/nonexistent/bench-repo', 'main', repeat('a', 40), 'open', 'strict', now(), now(), 1
    from generate_series(0, ? - 1) g`, [n]);
  const unsignedCancel = (i: number) => node.js.publish('omoi.in.ticket.cancel', JSON.stringify({ ticket_id: ticketId(i) }), { msgID: randomUUID() });

  progress(`signatures: warm-up, one signed heartbeat per agent (untimed)`);
  const warm = await counts(node, 'agent.heartbeat');
  await pipelined(agents.length, window, signedHeartbeat);
  await until(async () => (await counts(node, 'agent.heartbeat')).handled - warm.handled >= agents.length, opts.timeoutMs, 'warm-up heartbeats handled');

  const routed = async (type: string, send: (i: number) => Promise<unknown>) => {
    const before = await counts(node, type);
    const t0 = performance.now();
    let routedAt = 0;
    const poll = (async () => {
      while ((await counts(node, type)).routed - before.routed < n) {
        if (performance.now() - t0 > opts.timeoutMs) throw new Error(`${type}: only ${(await counts(node, type)).routed - before.routed}/${n} routed`);
        await sleep(5);
      }
      routedAt = performance.now();
    })();
    await pipelined(n, window, send);
    await poll;
    return { before, t0, seconds: (routedAt - t0) / 1000 };
  };

  progress(`signatures: ${n} unsigned ticket.cancel through the ingress router`);
  const unsigned = await routed('ticket.cancel', unsignedCancel);
  await until(async () => (await counts(node, 'ticket.cancel')).handled - unsigned.before.handled >= n, opts.timeoutMs, 'unsigned cancels handled');
  const unsignedEndToEndSeconds = (performance.now() - unsigned.t0) / 1000;
  const cancelled = Number((await node.db.em().getConnection().execute(`select count(*)::int as c from omoi_ticket where id like 'sig-bench-t%' and status = 'cancelled'`))[0].c);
  if (cancelled !== n) throw new Error(`signature bench: ${cancelled}/${n} tickets cancelled`);
  await node.idle();
  progress(`signatures: ${n} signed agent.heartbeat through the ingress router`);
  const signed = await routed('agent.heartbeat', signedHeartbeat);
  await until(async () => (await counts(node, 'agent.heartbeat')).handled - signed.before.handled >= n, opts.timeoutMs, 'signed heartbeats handled');
  const endToEndSeconds = (performance.now() - signed.t0) / 1000;
  const after = await counts(node, 'agent.heartbeat');
  const signedOutcomes: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.byOutcome)) if (v - (signed.before.byOutcome[k] ?? 0)) signedOutcomes[k] = v - (signed.before.byOutcome[k] ?? 0);
  await node.idle();
  // They stay registered but must not take later benchmarks' tasks.
  await node.db.em().getConnection().execute(`update omoi_agent set status = 'removed', reason = 'bench: signature benchmark done' where id like 'sig-bench-%'`);

  const ingress = {
    n, agents: agents.length, window,
    signedRoutedPerSec: round(n / signed.seconds, 0), unsignedRoutedPerSec: round(n / unsigned.seconds, 0),
    signedEndToEndPerSec: round(n / endToEndSeconds, 0), unsignedEndToEndPerSec: round(n / unsignedEndToEndSeconds, 0),
    extraUsPerMessage: round(((signed.seconds - unsigned.seconds) / n) * 1e6, 0),
    signedOutcomes,
  };
  progress(`signatures: routed ${ingress.signedRoutedPerSec} signed vs ${ingress.unsignedRoutedPerSec} unsigned msg/s; end to end ${ingress.signedEndToEndPerSec} vs ${ingress.unsignedEndToEndPerSec} msg/s`);
  return { micro, ingress };
}

/** The node's counts for one type: routed by the ingress router, and handled by actors (any outcome). */
async function counts(node: OmoiNode, type: string): Promise<{ routed: number; handled: number; byOutcome: Record<string, number> }> {
  const byOutcome: Record<string, number> = {};
  for (const v of (await node.metrics.handled.get()).values) {
    if (v.labels.type === type) byOutcome[String(v.labels.outcome)] = (byOutcome[String(v.labels.outcome)] ?? 0) + v.value;
  }
  const routed = byOutcome.routed ?? 0;
  const handled = Object.entries(byOutcome).filter(([k]) => k !== 'routed').reduce((a, [, v]) => a + v, 0);
  return { routed, handled, byOutcome };
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(20);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 2000);
  const { mkdtempSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { startNode } = await import('../src/bootstrap.ts');
  const { loadConfig } = await import('../src/config/index.ts');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'omoi-bench-'));
  const node = await startNode(loadConfig({}, { dataDir, httpPort: 0, logLevel: 'warn', nodeId: 'bench', apiToken: 'bench', partitions: 64, fetchBatch: 128 }));
  agentSignatureBench(node, { n, agents: 64, window: 256, timeoutMs: 300_000, progress: (l) => console.error(l) })
    .then((r) => console.log(JSON.stringify(r)))
    .finally(async () => { await node.stop(); rmSync(dataDir, { recursive: true, force: true }); })
    .then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
}
