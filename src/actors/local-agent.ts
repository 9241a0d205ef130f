/**
 * Every node has one agent of its own, `local-<node id>`, that runs tasks through the node's
 * executor (src/config/options.ts keeps node ids short enough for it to be a valid id). The
 * prefix is reserved: a remote agent cannot be registered under it, nor a local agent outside
 * it, so an attempt's agent id says whether Omoi's own executor ran it.
 */
export const LOCAL_AGENT_PREFIX = 'local-';

/** The id of node `nodeId`'s own agent. */
export function agentOfNode(nodeId: string): string {
  return `${LOCAL_AGENT_PREFIX}${nodeId}`;
}

/** The node whose own agent `agentId` is, or `undefined` for an agent of no node (a remote agent). */
export function nodeOfLocalAgent(agentId: string): string | undefined {
  return agentId.startsWith(LOCAL_AGENT_PREFIX) ? agentId.slice(LOCAL_AGENT_PREFIX.length) : undefined;
}
