import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import path from 'node:path';

/**
 * What this node's local agent reports at registration for the compatibility checks: the
 * sha256 of its agent command's binary (the template's first word, found on PATH like a shell
 * would) and the free disk under the data directory, where its sandboxes live.
 */
export async function probeLocalAgent(opts: { agentCommand?: string | null; dataDir: string; env?: NodeJS.ProcessEnv }): Promise<{ command_sha256?: string; resources: { disk_free_bytes: number } }> {
  const fs = await statfs(opts.dataDir);
  const resources = { disk_free_bytes: Number(fs.bavail) * Number(fs.bsize) };
  const binary = opts.agentCommand ? await findExecutable(opts.agentCommand.trim().split(/\s+/)[0]!, opts.env ?? process.env) : undefined;
  return binary ? { command_sha256: await sha256File(binary), resources } : { resources };
}

/** An absolute or relative path as it is; a bare name searched on PATH. Undefined when not found. */
async function findExecutable(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const candidates = name.includes('/') ? [path.resolve(name)] : (env.PATH ?? '').split(':').filter(Boolean).map((dir) => path.join(dir, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: the next directory
    }
  }
  return undefined;
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file).on('error', reject).on('data', (chunk) => hash.update(chunk)).on('end', () => resolve(hash.digest('hex')));
  });
}
