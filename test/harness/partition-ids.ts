import type { OmoiNode } from '../../src/bootstrap.ts';
import { partitionOf } from '../../src/protocol/index.ts';
import { waitFor } from './wait-for.ts';

/** The partitions `node` holds a live lease on now. */
export async function heldPartitions(node: OmoiNode): Promise<number[]> {
  const rows = await node.db.em().getConnection().execute(
    'select partition from omoi_partition_lease where node_id = ? and expires_at > now() order by partition', [node.config.nodeId]) as Array<{ partition: number }>;
  return rows.map((r) => r.partition);
}

/** Waits until the partitions are shared out evenly between `nodes`; the partitions of each. */
export async function evenlyShared(nodes: OmoiNode[]): Promise<number[][]> {
  const share = nodes[0]!.config.partitions / nodes.length;
  return waitFor('partitions shared out evenly', async () => {
    const held = await Promise.all(nodes.map(heldPartitions));
    return held.every((h) => h.length === share) ? held : undefined;
  }, { timeoutMs: 30_000 });
}

/** The first id `<prefix><n>` whose entity lives in one of `partitions` (of `count`). */
export function idInPartitions(entity: 'ticket' | 'agent', prefix: string, partitions: number[], count: number): string {
  for (let n = 1; ; n++) if (partitions.includes(partitionOf(entity, `${prefix}${n}`, count))) return `${prefix}${n}`;
}

/** The node of `nodes` holding the partition of an entity now (the first one if none does). */
export async function holderOf(nodes: OmoiNode[], entity: 'ticket' | 'agent', id: string): Promise<OmoiNode> {
  const count = nodes[0]!.config.partitions;
  const [row] = await nodes[0]!.db.em().getConnection().execute(
    'select node_id from omoi_partition_lease where partition = ?', [partitionOf(entity, id, count)]) as Array<{ node_id: string }>;
  return nodes.find((n) => n.config.nodeId === row?.node_id) ?? nodes[0]!;
}
