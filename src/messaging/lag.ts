import type { JetStreamManager } from '@nats-io/jetstream';
import { Streams } from '../protocol/index.ts';
import { partitionConsumer, ROUTER_CONSUMER } from './streams.ts';

/** Messages a consumer has not finished: not yet delivered (`pending`) and delivered but not acked (`ack_pending`). */
export interface ConsumerLag { pending: number; ack_pending: number }

export interface Lag {
  /** The ingress router (`OMOI_IN`, consumer `router`). */
  router: ConsumerLag;
  /** Each partition's consumer `part-<n>` on `OMOI_PART`, by partition. */
  partitions: Array<ConsumerLag & { partition: number }>;
  /** Sum of every pending and ack-pending message above. */
  total: number;
}

/**
 * How far behind the node's JetStream consumers are, read from the server (the same for every
 * node: the consumers are the cluster's). One listing request per 256 partition consumers.
 */
export async function consumerLag(jsm: JetStreamManager, partitions: number): Promise<Lag> {
  const lagOf = (i: { num_pending: number; num_ack_pending: number }): ConsumerLag => ({ pending: i.num_pending, ack_pending: i.num_ack_pending });
  const router = lagOf(await jsm.consumers.info(Streams.ingress, ROUTER_CONSUMER));
  const byName = new Map<string, ConsumerLag>();
  for await (const info of jsm.consumers.list(Streams.partitions)) byName.set(info.name, lagOf(info));
  const parts = Array.from({ length: partitions }, (_, partition) => ({ partition, ...(byName.get(partitionConsumer(partition)) ?? { pending: 0, ack_pending: 0 }) }));
  const total = [router, ...parts].reduce((sum, c) => sum + c.pending + c.ack_pending, 0);
  return { router, partitions: parts, total };
}
