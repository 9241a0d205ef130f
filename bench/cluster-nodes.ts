/**
 * A cluster of Omoi nodes for the multi-node benchmarks: one embedded nats-server (file
 * storage), one database on a durable embedded PostgreSQL (fsync on), and nodes in their own
 * OS processes (`bench/node-process.ts`) so one can be killed with SIGKILL.
 *
 * Every cluster ever started is stopped by `stopBenchClusters()` (the benches call it at the end
 * and on SIGINT/SIGTERM); a node also exits by itself when the bench process dies (its stdin
 * closes), and the servers have the embedded watchdog.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { OmoiConfig } from '../src/config/index.ts';
import { connectSql, quoteIdent, startEmbeddedNats, startEmbeddedPostgres, type EmbeddedNats, type EmbeddedPostgres, type SqlClient } from '../src/embedded/index.ts';
import type { Row } from './dag-shared.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A node process of a `BenchCluster`. */
export interface NodeProcess { id: string; child: ChildProcess; dataDir: string }

const live = new Set<BenchCluster | BenchPostgres>();

/** Stops every cluster and PostgreSQL server still running (idempotent). */
export async function stopBenchClusters(): Promise<void> {
  for (const x of [...live].reverse()) await x.stop().catch((e) => console.error(`bench: ${(e as Error).message}`));
}

/** The PostgreSQL server the clusters of one benchmark share (a database each). */
export class BenchPostgres {
  private constructor(private readonly server: EmbeddedPostgres, private readonly dataDir: string) {}

  static async start(dataDir: string): Promise<BenchPostgres> {
    const server = await startEmbeddedPostgres({ dataDir, log: () => undefined });
    const pg = new BenchPostgres(server, dataDir);
    live.add(pg);
    return pg;
  }

  /** A new, empty database; its URL. */
  async createDatabase(name: string): Promise<string> {
    const admin = await connectSql(this.server.url);
    try {
      await admin.query(`create database ${quoteIdent(name)}`);
    } finally {
      await admin.end();
    }
    const url = new URL(this.server.url);
    url.pathname = `/${name}`;
    return url.toString();
  }

  async stop(): Promise<void> {
    if (!live.delete(this)) return;
    await this.server.stop();
    // As root the cluster may live elsewhere, `dataDir` a link to it (src/embedded/postgres.ts): remove both.
    const link = lstatSync(this.dataDir, { throwIfNoEntry: false });
    if (link?.isSymbolicLink()) rmSync(path.resolve(path.dirname(this.dataDir), readlinkSync(this.dataDir)), { recursive: true, force: true });
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** One nats-server and one database, and the node processes started on them. */
export class BenchCluster {
  readonly nodes = new Map<string, NodeProcess>();

  private constructor(
    readonly dir: string, readonly databaseUrl: string, private readonly nats: EmbeddedNats,
    private readonly nc: NatsConnection, private readonly db: SqlClient,
  ) {}

  /** A cluster with its files under `dir` (created; removed by `stop()`), its database `name` on `postgres`. */
  static async start(postgres: BenchPostgres, dir: string, name: string): Promise<BenchCluster> {
    mkdirSync(dir, { recursive: true });
    const databaseUrl = await postgres.createDatabase(name);
    const nats = await startEmbeddedNats({ storeDir: path.join(dir, 'nats'), log: () => undefined });
    const nc = await connect({ servers: nats.url });
    const db = await connectSql(databaseUrl);
    const cluster = new BenchCluster(dir, databaseUrl, nats, nc, db);
    live.add(cluster);
    return cluster;
  }

  get natsUrl(): string {
    return this.nats.url;
  }

  async sql(query: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.db.query<Row>(query, params)).rows;
  }

  /** Publishes a command on the ingress subject, as a client would. */
  async submit(type: string, payload: unknown): Promise<void> {
    this.nc.publish(`omoi.in.${type}`, JSON.stringify(payload));
    await this.nc.flush();
  }

  /** Starts node `id` in its own process; resolves once it is up (the node has started its partitions and its local agent). */
  async startNode(id: string, config: Partial<OmoiConfig> = {}): Promise<NodeProcess> {
    const dataDir = path.join(this.dir, id);
    const overrides = { dataDir, databaseUrl: this.databaseUrl, natsUrl: this.nats.url, httpPort: 0, nodeId: id, apiToken: 'bench', logLevel: 'error', ...config };
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/node-process.ts'), JSON.stringify(overrides)], {
      cwd: root, stdio: ['pipe', 'pipe', 'inherit'],
    });
    const node = { id, child, dataDir };
    this.nodes.set(id, node);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (code, signal) => reject(new Error(`node ${id} exited before it was ready (${code ?? signal})`)));
    });
    return node;
  }

  /** SIGKILL, as a crash would; resolves once the process is gone. */
  async kill9(id: string): Promise<void> {
    const node = this.nodes.get(id)!;
    const exited = new Promise((r) => node.child.once('exit', r));
    node.child.kill('SIGKILL');
    await exited;
    this.nodes.delete(id);
  }

  /** Stops every node (SIGTERM; SIGKILL after 20 s), then the nats-server; drops nothing (the database goes with its server). */
  async stop(): Promise<void> {
    if (!live.delete(this)) return;
    await Promise.all([...this.nodes.values()].map((n) => stopProcess(n.child, 20_000)));
    this.nodes.clear();
    await this.nc.close().catch(() => undefined);
    await this.db.end().catch(() => undefined);
    await this.nats.stop();
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

async function stopProcess(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs a cluster benchmark as its own command: a temp work dir, progress lines with the time
 * since start, `print` of its result, and every cluster and temp dir removed at the end and on
 * Ctrl-C (SIGINT/SIGTERM).
 */
export function runStandalone<R>(name: string, bench: (workDir: string, progress: (line: string) => void) => Promise<R>, print: (result: R) => void): void {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'omoi-bench-'));
  const started = Date.now();
  const progress = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  const cleanup = async () => {
    await stopBenchClusters();
    rmSync(workDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  bench(workDir, progress)
    .then(print)
    .catch((err) => { console.error(`${name} failed: ${(err as Error).stack}`); process.exitCode = 1; })
    .finally(() => cleanup());
}
