import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from './test-context.ts';

/**
 * A fresh directory under the OS temp dir (`omoi-<prefix>-XXXXXX`), deleted in `t.teardown`.
 * Private (mode 0700, as `mktemp -d` makes it) unless `mode` says otherwise, e.g. 0o755 for a
 * place the embedded PostgreSQL, run as the `postgres` user when we are root, may enter.
 */
export async function tempDir(t: TestContext, prefix: string, opts: { mode?: number } = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `omoi-${prefix.replace(/[^\w.-]/g, '_')}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  if (opts.mode !== undefined) await chmod(dir, opts.mode);
  return dir;
}
