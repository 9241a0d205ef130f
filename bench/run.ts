/**
 * `npm run bench [-- --quick]`: the messaging benchmark of one node with embedded nats-server
 * (file storage) and embedded PostgreSQL (durable: fsync on, not ephemeral).
 *
 *   (a) raw JetStream floor: pipelined publish+ack, then durable pull consume+ack;
 *   (b) end-to-end: `agent.heartbeat` → AgentActor → commit → ack, through `node.submit`.
 *
 * Prints progress lines, a table, then one JSON line with every number. The ratio (b)/(a
 * publish) has a target of ≥ 30%. Every temp dir and child server is removed at the end and
 * on Ctrl-C (SIGINT/SIGTERM).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNode, type OmoiNode } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config/index.ts';
import { findNatsServer } from '../src/embedded/index.ts';
import { AckClock } from './ack-clock.ts';
import { endToEnd } from './end-to-end.ts';
import { rawJetStream } from './raw-jetstream.ts';
import { round } from './stats.ts';

const TARGET_RATIO = 0.3;
const quick = process.argv.includes('--quick');
const settings = {
  rawMessages: quick ? 5_000 : 20_000,
  e2eMessages: quick ? 1_000 : 5_000,
  agents: quick ? 64 : 256,
  window: 256,
  payloadBytes: 200,
  sample: 500,
  partitions: 64,
  fetchBatch: 128,
};

const started = Date.now();
const progress = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'omoi-bench-'));
let node: OmoiNode | undefined;
let cleaning: Promise<void> | undefined;
const clock = new AckClock();

function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    clock.uninstall();
    await node?.stop().catch((e) => console.error(`bench: node did not stop cleanly: ${(e as Error).message}`));
    rmSync(dataDir, { recursive: true, force: true });
  })());
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, cleaning up ${dataDir}`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  progress(`data dir ${dataDir}; starting node (embedded nats-server + durable PostgreSQL)`);
  const config = loadConfig({}, {
    dataDir, httpPort: 0, logLevel: 'warn', nodeId: 'bench', apiToken: 'bench',
    partitions: settings.partitions, fetchBatch: settings.fetchBatch,
  });
  node = await startNode(config);
  if (!node.runtime.registeredTypes().includes('AgentActor')) throw new Error(`AgentActor is not registered (actors: ${node.runtime.registeredTypes().join(', ')})`);
  const pgSettings = await node.db.em().getConnection().execute(
    `select (select setting from pg_settings where name = 'fsync') as fsync, (select setting from pg_settings where name = 'synchronous_commit') as synchronous_commit, version() as version`,
  ) as Array<{ fsync: string; synchronous_commit: string; version: string }>;
  const pg = pgSettings[0];
  progress(`node up: ${node.nc.getServer()}; PostgreSQL fsync=${pg.fsync} synchronous_commit=${pg.synchronous_commit}`);

  const raw = await rawJetStream(node.nc, node.js, {
    n: settings.rawMessages, payloadBytes: settings.payloadBytes, window: settings.window, progress,
    onFirstMessage: (m) => clock.install(m),
  });
  progress(`raw: publish ${raw.publishPerSec.toFixed(0)} msg/s, consume ${raw.consumePerSec.toFixed(0)} msg/s`);
  if (!clock.installed) throw new Error('ack clock: no raw message was consumed');

  const e2e = await endToEnd(node, clock, {
    n: settings.e2eMessages, agents: settings.agents, window: settings.window, sample: settings.sample, timeoutMs: 300_000, progress,
  });
  progress(`e2e: ${e2e.perSec.toFixed(0)} msg/s`);

  const ratio = e2e.perSec / raw.publishPerSec;
  const ms = (x: number) => round(x, 2);
  console.log('');
  console.table([
    { measure: '(a) raw JetStream publish+ack', value: round(raw.publishPerSec, 0), unit: 'msg/s', detail: `${raw.messages} × ${raw.payloadBytes} B, window ${raw.window}, ${raw.publishSeconds.toFixed(2)} s` },
    { measure: '(a) raw JetStream consume+ack', value: round(raw.consumePerSec, 0), unit: 'msg/s', detail: `durable pull consume(), ${raw.consumeSeconds.toFixed(2)} s` },
    { measure: '(b) end-to-end msg→actor→commit→ack', value: round(e2e.perSec, 0), unit: 'msg/s', detail: `${e2e.messages} ${e2e.command} over ${e2e.agents} agents, ${e2e.seconds.toFixed(2)} s` },
    { measure: '(b) publish (submit) rate only', value: round(e2e.messages / e2e.publishSeconds, 0), unit: 'msg/s', detail: `${e2e.publishSeconds.toFixed(2)} s` },
    { measure: '(b) handler pull→ack p50', value: ms(e2e.handlerMs.p50), unit: 'ms', detail: 'omoi_handler_seconds (interpolated)' },
    { measure: '(b) handler pull→ack p99', value: ms(e2e.handlerMs.p99), unit: 'ms', detail: 'omoi_handler_seconds (interpolated)' },
    { measure: '(b) publish→ack p50', value: ms(e2e.publishToAckMs.p50), unit: 'ms', detail: `${e2e.publishToAckMs.samples} messages` },
    { measure: '(b) publish→ack p99', value: ms(e2e.publishToAckMs.p99), unit: 'ms', detail: `max ${ms(e2e.publishToAckMs.max)} ms` },
    { measure: '(b) publish→processed_at p50', value: ms(e2e.publishToProcessedAtMs.p50), unit: 'ms', detail: `${e2e.publishToProcessedAtMs.samples} sampled (tx start)` },
    { measure: '(b) publish→processed_at p99', value: ms(e2e.publishToProcessedAtMs.p99), unit: 'ms', detail: '' },
    { measure: 'ratio (b)/(a publish+ack)', value: round(ratio * 100, 1), unit: '%', detail: `target ≥ ${TARGET_RATIO * 100}% → ${ratio >= TARGET_RATIO ? 'MET' : 'NOT MET'}` },
  ]);

  const machine = {
    cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: round(os.totalmem() / 2 ** 30, 1),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`, node: process.version,
    natsServer: natsVersion(await findNatsServer()), postgres: pg.version.split(',')[0], fsync: pg.fsync, synchronousCommit: pg.synchronous_commit,
  };
  const report = {
    bench: 'omoi-messaging', quick, settings, raw, endToEnd: e2e,
    ratio: round(ratio, 4), targetRatio: TARGET_RATIO, targetMet: ratio >= TARGET_RATIO,
    machine, totalSeconds: round((Date.now() - started) / 1000, 1),
  };
  console.log(JSON.stringify(report));
}

function natsVersion(binary: string): string {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0), async (err) => {
    console.error(`bench failed: ${String((err as Error).stack ?? err).slice(0, 2000)}`);
    await cleanup();
    process.exit(1);
  });
