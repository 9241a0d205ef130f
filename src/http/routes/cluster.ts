import type { FastifyInstance } from 'fastify';
import { NodeEntity, PartitionLeaseEntity } from '../../persistence/index.ts';
import type { HttpDeps } from '../deps.ts';
import { plainRow } from '../plain-row.ts';

/** `GET /api/cluster`: the nodes that heartbeat and who holds each partition lease. */
export async function clusterRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/cluster', async () => {
    const em = deps.db.em();
    const [nodes, leases] = await Promise.all([
      em.find(NodeEntity, {}, { orderBy: { id: 'asc' } }),
      em.find(PartitionLeaseEntity, {}, { orderBy: { partition: 'asc' } }),
    ]);
    return { node_id: deps.config.nodeId, partitions: deps.config.partitions, nodes: nodes.map(plainRow), leases: leases.map(plainRow) };
  });
}
