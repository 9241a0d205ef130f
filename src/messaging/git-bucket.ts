import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { JetStreamClient } from '@nats-io/jetstream';
import { Objm, StorageType, type ObjectStore } from '@nats-io/obj';
import { RetryableError } from '../errors.ts';
import type { BundleBucket } from '../git/commit-store.ts';

/** The object store bucket of git bundles (stream `OBJ_OMOI_GIT`). */
export const GIT_BUCKET = 'OMOI_GIT';

/**
 * Opens (creating it if missing, idempotently: every node does this at start) the JetStream
 * object store that holds Omoi's commits as git bundles (src/git/commit-store.ts), on file
 * storage with `replicas` copies.
 */
export async function openGitBucket(js: JetStreamClient, replicas = 1): Promise<BundleBucket> {
  const store = await new Objm(js).create(GIT_BUCKET, {
    description: 'Omoi: commits of tasks and merges as git bundles, named <ticket>/<commit>',
    storage: StorageType.File, replicas,
  });
  return new ObjectStoreBundles(store);
}

class ObjectStoreBundles implements BundleBucket {
  constructor(private readonly store: ObjectStore) {}

  async has(name: string): Promise<boolean> {
    const info = await this.store.info(name);
    return !!info && !info.deleted;
  }

  async put(name: string, file: string, metadata: Record<string, string>): Promise<{ size: number; digest: string }> {
    const data = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>;
    const info = await this.store.put({ name, metadata }, data);
    return { size: info.size, digest: info.digest };
  }

  async get(name: string, file: string): Promise<{ metadata: Record<string, string> } | null> {
    const result = await this.store.get(name);
    if (!result) return null;
    await pipeline(Readable.fromWeb(result.data as any), createWriteStream(file));
    // Resolves once the whole object was read: an error here is a digest mismatch or a lost chunk.
    const err = await result.error;
    if (err) throw new RetryableError('bundle_unreadable', `object store ${GIT_BUCKET}: ${name}: ${err.message}`);
    return { metadata: result.info.metadata ?? {} };
  }
}
