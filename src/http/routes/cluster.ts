import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../../errors.ts';
import type { Lag } from '../../messaging/lag.ts';
import { LeaseHistoryEntity, NodeEntity, PartitionLeaseEntity } from '../../persistence/index.ts';
import { Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { plainRow } from '../plain-row.ts';
import { queryInt } from '../request-input.ts';

/** Most nodes listed (by id): ids of nodes long gone stay in `omoi_node`. */
const MAX_NODES = 200;

/**
 * `GET /api/cluster?failovers=`: the nodes that heartbeat, who holds each partition lease, and
 * the lag of the JetStream consumers (`lag`: router, per partition, total). NATS not answering
 * does not fail the request: `lag` is null and `lag_error` says why.
 *
 * Beside those rows, for the cluster view: each node's `partitions` (the leases it holds and
 * that have not expired) and `live` (status `up`, a heartbeat within three heartbeat periods —
 * the lease lifetime); each lease's `held` (a holder whose lease has not expired) and `lag`
 * (its consumer's, null without lag); and `failovers`, the newest holdings that took an expired
 * lease from another node (`omoi_lease_history.taken_over_from`), `failovers` of them (default 20).
 */
export async function clusterRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/cluster', {
    config: { role: 'viewer' },
    schema: {
      summary: 'The nodes, who holds each partition, and how far behind the consumers are', tags: ['operations'],
      querystring: Type.Object({ failovers: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 20, description: 'how many recent failovers to list' })) }),
      response: {
        200: Type.Object({
          node_id: Type.String({ description: 'the node that answered' }),
          partitions: Type.Integer({ minimum: 1 }),
          nodes: Type.Array(Row('an `omoi_node` row, with `live` and the `partitions` it holds')),
          leases: Type.Array(Row('an `omoi_partition_lease` row, with `held` and its consumer\'s `lag`')),
          failovers: Type.Array(Type.Object({ partition: Type.Integer(), from: Type.String(), to: Type.String(), epoch: Type.Integer(), at: Type.String({ format: 'date-time' }) }), { description: 'the newest holdings that took an expired lease from another node' }),
          lag: Type.Union([Type.Object({}, { additionalProperties: true, description: 'pending messages: router, per partition, total' }), Type.Null()]),
          lag_error: Type.Optional(Type.String({ description: 'why `lag` is null: NATS did not answer' })),
        }, { description: 'The cluster' }),
      },
    },
  }, async (req) => {
    const failoverLimit = queryInt(req.query, 'failovers', { min: 1, max: 200, default: 20 });
    const em = deps.db.em();
    const [nodes, leases, failovers, lag] = await Promise.all([
      em.find(NodeEntity, {}, { orderBy: { id: 'asc' }, limit: MAX_NODES }),
      em.find(PartitionLeaseEntity, {}, { orderBy: { partition: 'asc' } }),
      em.find(LeaseHistoryEntity, { taken_over_from: { $ne: null } }, { orderBy: { held_from: 'desc', id: 'desc' }, limit: failoverLimit }),
      deps.lag ? deps.lag().then((l): { lag: Lag | null; lag_error?: string } => ({ lag: l }), (err) => ({ lag: null, lag_error: errorMessage(err) })) : { lag: null },
    ]);
    const now = Date.now();
    const held = (l: { node_id: string | null; expires_at: Date }) => l.node_id !== null && l.expires_at.getTime() > now;
    const partitionsOf = new Map<string, number[]>();
    for (const l of leases) if (held(l)) partitionsOf.set(l.node_id!, [...(partitionsOf.get(l.node_id!) ?? []), l.partition]);
    const lagOf = new Map((lag.lag?.partitions ?? []).map(({ partition, ...rest }) => [partition, rest]));
    const lifetimeMs = deps.config.heartbeatMs * 3;
    return {
      node_id: deps.config.nodeId,
      partitions: deps.config.partitions,
      nodes: nodes.map((n) => ({
        ...plainRow(n),
        live: n.status === 'up' && now - n.heartbeat_at.getTime() < lifetimeMs,
        partitions: partitionsOf.get(n.id) ?? [],
      })),
      leases: leases.map((l) => ({ ...plainRow(l), held: held(l), lag: lagOf.get(l.partition) ?? null })),
      failovers: failovers.map((f) => ({ partition: f.partition, from: f.taken_over_from, to: f.node_id, epoch: f.epoch, at: f.held_from.toISOString() })),
      ...lag,
    };
  });
}
