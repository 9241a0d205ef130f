import { pino } from 'pino';
import { startNode, type OmoiNode } from '../../src/bootstrap.ts';
import { loadConfig, type OmoiConfig } from '../../src/config/index.ts';
import { connectNats, type NatsConnection } from '../../src/messaging/connection.ts';
import type { EmbeddedNats } from '../../src/embedded/index.ts';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from './test-context.ts';
import { withNats } from './nats.ts';
import { withPostgres } from './postgres.ts';

export interface Cluster { nats: EmbeddedNats; databaseUrl: string }

/** A nats-server and a database for one test file. */
export async function withCluster(t: TestContext): Promise<Cluster> {
  const [nats, pg] = await Promise.all([withNats(t), withPostgres(t)]);
  return { nats, databaseUrl: pg.url };
}

/** Starts a real node against the cluster; stopped in teardown. */
export async function withNode(t: TestContext, cluster: Cluster, overrides: Partial<OmoiConfig> = {}): Promise<OmoiNode> {
  // Removed after the node stopped (a running node still writes sandboxes and logs there).
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'omoi-node-'));
  const config = loadConfig({}, {
    dataDir, databaseUrl: cluster.databaseUrl, natsUrl: cluster.nats.url, httpPort: 0, partitions: 4,
    logLevel: 'silent', heartbeatMs: 500, ackWaitMs: 5_000, nodeId: `node-${Math.random().toString(36).slice(2, 8)}`,
    apiToken: 'test-token',
    // Tests coordinate with their tasks through flag files in temp directories: the host's /tmp
    // is writable for their commands (the node's data dir in it stays hidden). The sandbox's
    // own defaults are tested in test/sandbox/isolation.test.ts and test/flow/isolated-tasks.test.ts.
    sandboxWritable: [os.tmpdir()],
    ...overrides,
  });
  const log = pino({ level: process.env.OMOI_TEST_LOG ?? 'silent' });
  const node = await startNode(config, { log });
  t.teardown(async () => {
    await node.stop();
    await fs.rm(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });
  return node;
}

/** A plain NATS client, as an outside user would have. */
export async function withClient(t: TestContext, cluster: Cluster): Promise<NatsConnection> {
  const nc = await connectNats(cluster.nats.url, 'test-client', pino({ level: 'silent' }));
  t.teardown(() => nc.close());
  return nc;
}
