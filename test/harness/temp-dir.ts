import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from './test-context.ts';

/** A fresh directory under the OS temp dir (`omoi-<prefix>-XXXXXX`), deleted in `t.teardown`. */
export async function tempDir(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `omoi-${prefix.replace(/[^\w.-]/g, '_')}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
