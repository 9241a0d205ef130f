import { AgentEntity, type AgentRow } from '../persistence/index.ts';
import type { MessageScope } from '../messaging/unit-of-work.ts';
import { agentOfNode } from './local-agent.ts';

/**
 * The agents a TicketActor may offer tasks to, as a short-lived snapshot of `omoi_agent`.
 *
 * Why: a ticket schedules after every message it handles, and during a fan-out nearly every
 * message finds ready tasks; reading the agent table each time cost two round trips inside the
 * transaction (a flush and a select) for an answer that rarely changes. The snapshot is dropped
 * whenever an AgentActor on this node writes an agent (so a node's own agents are always seen
 * at once) and otherwise lives `ttlMs`: an agent changed by another node is seen that much later.
 * Staleness is safe: an assignment to an agent that is gone is failed back to the queue by its
 * AgentActor (`agent_unavailable`), and per-agent load is counted by the ticket itself.
 */
export class AgentDirectory {
  private snapshot: { at: number; rows: AgentRow[] } | undefined;
  /** Bumped by `invalidate`: a read that an agent write overtook is not kept. */
  private generation = 0;

  /**
   * `nodeTtlMs`: a node whose heartbeat is older than this is gone, and its local agent
   * (`local-<node>`) is left out: nothing is assigned to the agent of a node that stopped or
   * died (absent: every local agent is listed).
   */
  constructor(private readonly ttlMs = 200, private readonly nodeTtlMs?: number) {}

  /** Agents that are not removed, ordered by id; read in `scope`'s transaction when stale. */
  async list(scope: MessageScope): Promise<AgentRow[]> {
    const now = performance.now();
    if (this.snapshot && now - this.snapshot.at < this.ttlMs) return this.snapshot.rows;
    const generation = this.generation;
    await scope.uow.flush(AgentEntity); // agents written earlier in this transaction count
    let rows = (await scope.em.find(AgentEntity, { status: { $ne: 'removed' } }, { orderBy: { id: 'asc' }, disableIdentityMap: true })) as AgentRow[];
    if (this.nodeTtlMs !== undefined && rows.some((r) => r.kind === 'local')) {
      const up = await scope.em.getConnection().execute(
        `select id from omoi_node where status = 'up' and heartbeat_at > now() - ?::interval`, [`${this.nodeTtlMs} milliseconds`], 'all', scope.em.getTransactionContext(),
      ) as Array<{ id: string }>;
      const live = new Set(up.map((n) => agentOfNode(n.id)));
      rows = rows.filter((r) => r.kind !== 'local' || live.has(r.id));
    }
    if (generation === this.generation) {
      this.snapshot = { at: now, rows };
      // An idle node does not keep the rows (thousands of agents) alive past their use.
      setTimeout(() => { if (this.snapshot?.rows === rows) this.snapshot = undefined; }, this.ttlMs).unref();
    }
    scope.uow.onRollback(() => this.invalidate()); // the rows may include writes that never commit
    return rows;
  }

  /** An agent changed: the next `list` reads the table again. */
  invalidate(): void {
    this.snapshot = undefined;
    this.generation++;
  }
}
