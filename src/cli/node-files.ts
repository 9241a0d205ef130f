import fs from 'node:fs';
import path from 'node:path';

/**
 * Files a node leaves in its data directory for the CLI on the same machine:
 * - `api-token`: the HTTP API token the node generated (when `OMOI_API_TOKEN` is unset);
 * - `database-url`: the URL of the embedded PostgreSQL, valid only while the node runs.
 */
export const NodeFiles = {
  apiToken: (dataDir: string) => path.join(dataDir, 'api-token'),
  databaseUrl: (dataDir: string) => path.join(dataDir, 'database-url'),
} as const;

/** The trimmed content of `file`, or undefined if it does not exist or is empty. */
export function readNodeFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
