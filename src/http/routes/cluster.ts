import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../../errors.ts';
import { NodeEntity, PartitionLeaseEntity } from '../../persistence/index.ts';
import { Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { plainRow } from '../plain-row.ts';

/**
 * `GET /api/cluster`: the nodes that heartbeat, who holds each partition lease, and the lag of
 * the JetStream consumers (`lag`: router, per partition, total). NATS not answering does not
 * fail the request: `lag` is null and `lag_error` says why.
 */
export async function clusterRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/cluster', {
    config: { role: 'viewer' },
    schema: {
      summary: 'The nodes, who holds each partition, and how far behind the consumers are', tags: ['operations'],
      response: {
        200: Type.Object({
          node_id: Type.String({ description: 'the node that answered' }),
          partitions: Type.Integer({ minimum: 1 }),
          nodes: Type.Array(Row('an `omoi_node` row')),
          leases: Type.Array(Row('an `omoi_partition_lease` row')),
          lag: Type.Union([Type.Object({}, { additionalProperties: true, description: 'pending messages: router, per partition, total' }), Type.Null()]),
          lag_error: Type.Optional(Type.String({ description: 'why `lag` is null: NATS did not answer' })),
        }, { description: 'The cluster' }),
      },
    },
  }, async () => {
    const em = deps.db.em();
    const [nodes, leases, lag] = await Promise.all([
      em.find(NodeEntity, {}, { orderBy: { id: 'asc' } }),
      em.find(PartitionLeaseEntity, {}, { orderBy: { partition: 'asc' } }),
      deps.lag ? deps.lag().then((l) => ({ lag: l }), (err) => ({ lag: null, lag_error: errorMessage(err) })) : { lag: null },
    ]);
    return { node_id: deps.config.nodeId, partitions: deps.config.partitions, nodes: nodes.map(plainRow), leases: leases.map(plainRow), ...lag };
  });
}
