import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedNats, type EmbeddedNats } from '../../src/embedded/index.ts';
import { serverLog } from './server-log.ts';
import type { TestContext } from './test-context.ts';

/**
 * A nats-server with JetStream of this test alone: free port, temp store. Stopped and its
 * store deleted in `t.teardown`. Throws (never skips) if nats-server is not installed.
 * Without `authorization` (a config `authorization { ... }` block, asked at each start) it
 * lets anyone in, as almost every test wants.
 */
export async function withNats(t: TestContext, opts: { authorization?: () => string } = {}): Promise<EmbeddedNats> {
  const storeDir = await mkdtemp(path.join(os.tmpdir(), 'omoi-test-nats-'));
  let nats: EmbeddedNats;
  try {
    nats = await startEmbeddedNats({ storeDir, log: serverLog('nats'), authorization: opts.authorization });
  } catch (err) {
    await rm(storeDir, { recursive: true, force: true });
    throw err;
  }
  t.teardown(async () => {
    await nats.stop();
    await rm(storeDir, { recursive: true, force: true });
  });
  return nats;
}
