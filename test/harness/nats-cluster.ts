import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { acceptsConnections } from '../../src/embedded/free-port.ts';
import { findNatsServer, freePort } from '../../src/embedded/index.ts';
import { OutputLines } from '../../src/embedded/output-lines.ts';
import { terminate } from '../../src/embedded/processes.ts';
import { startWatchdog, type Watchdog } from '../../src/embedded/watchdog.ts';
import { serverLog } from './server-log.ts';
import type { TestContext } from './test-context.ts';
import { waitFor } from './wait-for.ts';

/** One server of a `withNatsCluster` cluster. */
export interface ClusterServer {
  name: string;
  url: string;
  pid: number;
  /** Names of the clients connected to it now (its monitoring endpoint's `/connz`). */
  clientNames(): Promise<string[]>;
  /** SIGKILL, to simulate a crash; `restart()` brings it back on the same ports and store. */
  kill9(): void;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsCluster {
  servers: ClusterServer[];
  /** Every server's URL, comma-separated, as `NATS_URL` takes them. */
  url: string;
}

/**
 * `size` nats-server processes forming one JetStream cluster (free ports, a temp store each),
 * resolved once JetStream answers (the cluster elected its meta leader). Stopped and deleted
 * in `t.teardown`; a watchdog stops them if the test process dies.
 */
export async function withNatsCluster(t: TestContext, size = 3): Promise<NatsCluster> {
  const binary = await findNatsServer();
  const root = await mkdtemp(path.join(os.tmpdir(), 'omoi-test-nats-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort(), monitor: await freePort() })));
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`).join(',');
  const servers = ports.map((p, i) => new Server(binary, `n${i + 1}`, path.join(root, `n${i + 1}`), p.client, p.route, p.monitor, routes));
  t.teardown(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(root, { recursive: true, force: true });
  });
  await Promise.all(servers.map((s) => s.start()));
  const url = servers.map((s) => s.url).join(',');
  await jetStreamReady(url);
  return { servers, url };
}

/** Resolves once a JetStream request succeeds: a fresh cluster answers 503 until it has a meta leader. */
export async function jetStreamReady(url: string, timeoutMs = 30_000): Promise<void> {
  const nc = await connect({ servers: url.split(','), maxReconnectAttempts: -1 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false }); // its own check would throw before the cluster elects a leader
    await waitFor('the JetStream cluster to answer', () => jsm.getAccountInfo().then(() => true), { timeoutMs, intervalMs: 250 });
  } finally {
    await nc.close();
  }
}

class Server implements ClusterServer {
  private child: ChildProcess | undefined;
  private watchdog: Watchdog | undefined;

  constructor(
    private readonly binary: string,
    readonly name: string,
    private readonly storeDir: string,
    private readonly port: number,
    private readonly routePort: number,
    private readonly monitorPort: number,
    private readonly routes: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  async clientNames(): Promise<string[]> {
    const res = await fetch(`http://127.0.0.1:${this.monitorPort}/connz?limit=1000`);
    const body = await res.json() as { connections?: Array<{ name?: string }> };
    return (body.connections ?? []).map((c) => c.name ?? '');
  }

  async start(): Promise<void> {
    const output = new OutputLines(serverLog(this.name));
    const child = spawn(this.binary, [
      '-a', '127.0.0.1', '-p', String(this.port), '-m', String(this.monitorPort), '--server_name', this.name,
      '--cluster_name', 'omoi-test', '--cluster', `nats://127.0.0.1:${this.routePort}`, '--routes', this.routes,
      '-js', '-sd', this.storeDir,
    ], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (d: Buffer) => output.push(d));
    this.watchdog = startWatchdog({ serverPid: child.pid!, signal: 'TERM', graceSeconds: 10 });
    await waitFor(`nats-server ${this.name} accepting connections`, async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nats-server ${this.name} exited: ${output.tail()}`);
      return acceptsConnections('127.0.0.1', this.port);
    }, { timeoutMs: 30_000, intervalMs: 100 });
    child.unref();
  }

  kill9(): void {
    if (this.child?.pid && this.child.exitCode === null) process.kill(this.child.pid, 'SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    if (this.child?.pid) await terminate(this.child.pid, [{ signal: 'SIGTERM', waitMs: 10_000 }]);
    this.watchdog?.dismiss();
    this.watchdog = undefined;
  }
}
