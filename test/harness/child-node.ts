import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OmoiConfig } from '../../src/config/index.ts';
import type { Cluster } from './node.ts';
import type { TestContext } from './test-context.ts';

/** What a child node needs of its cluster: a `Cluster`, or any NATS URL (list) and database. */
export type ChildCluster = Pick<Cluster, 'databaseUrl'> & { nats: Pick<Cluster['nats'], 'url'> };

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * A node in a child process (through tsx, `test/flow/fixtures/node-process.ts`), so a test can
 * `kill -9` it; resolves once it printed `ready`, SIGKILLed at teardown if still alive. Like
 * `withNode`, its task commands may write the host's /tmp, where tests keep their flag files.
 * `c.nats.url` may list several servers (a NATS cluster); `more.config` overrides settings,
 * `more.env` adds variables (e.g. `OMOI_FAILPOINT`).
 */
export async function startChildNode(
  t: TestContext, c: ChildCluster, dataDir: string, nodeId: string,
  more: { config?: Partial<OmoiConfig>; env?: Record<string, string> } = {},
): Promise<ChildProcess> {
  const config = {
    dataDir, databaseUrl: c.databaseUrl, natsUrl: c.nats.url, httpPort: 0, partitions: 4, logLevel: 'silent',
    heartbeatMs: 300, ackWaitMs: 5_000, nodeId, apiToken: 'test-token', sandboxWritable: [os.tmpdir()], ...more.config,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/flow/fixtures/node-process.ts'), JSON.stringify(config)], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...more.env },
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code, signal) => reject(new Error(`node exited early (${code ?? signal})`)));
  });
  return child;
}
