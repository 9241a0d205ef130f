import { nodeApi } from '../node-api.ts';
import { textTable } from '../text-table.ts';

interface AgentLine {
  id: string; name: string; kind: string; phase: string; status: string; capacity: number; running: string[];
  draining?: boolean; reason: string | null;
}

export interface AgentsOptions { url?: string; json?: boolean; reason?: string }

/** `omoi agents [list]`: every agent with its health, drain, load and capacity. */
export async function agentsList(opts: AgentsOptions): Promise<string> {
  const { agents } = await nodeApi(opts.url).call<{ agents: AgentLine[] }>('GET', '/api/agents');
  if (opts.json) return JSON.stringify(agents, null, 2);
  if (agents.length === 0) return 'no agents';
  return textTable(
    ['ID', 'KIND', 'PHASE', 'STATUS', 'DRAINING', 'RUNNING', 'REASON'],
    agents.map((a) => [a.id, a.kind, a.phase, a.status, a.draining ? 'yes' : 'no', `${a.running.length}/${a.capacity}`, a.reason ?? '']),
  );
}

/**
 * `omoi agents drain|undrain|shutdown|remove ID` (admin token): `POST /api/agents/<id>/drain`,
 * `…/undrain`, `…/shutdown`, `DELETE /api/agents/<id>` — what the dashboard's buttons call. A
 * draining agent finishes what it runs and is offered nothing new; a shutting-down one is removed
 * once it finishes; a removed one's running attempts go back to the queue.
 */
export async function agentsAct(action: 'drain' | 'undrain' | 'shutdown' | 'remove', id: string, opts: AgentsOptions): Promise<string> {
  const body = opts.reason === undefined ? {} : { reason: opts.reason };
  const path = `/api/agents/${encodeURIComponent(id)}`;
  const answer = await nodeApi(opts.url).call<{ agent_id: string; message_id: string }>(
    action === 'remove' ? 'DELETE' : 'POST', action === 'remove' ? path : `${path}/${action}`, body,
  );
  if (opts.json) return JSON.stringify(answer, null, 2);
  return `${action} of agent ${answer.agent_id} accepted (message ${answer.message_id})`;
}

/** `omoi agents broadcast MESSAGE` (admin token): `POST /api/agents/broadcast`, one control per agent not removed. */
export async function agentsBroadcast(message: string, opts: AgentsOptions): Promise<string> {
  const answer = await nodeApi(opts.url).call<{ control_id: string; agent_ids: string[] }>('POST', '/api/agents/broadcast', { message });
  if (opts.json) return JSON.stringify(answer, null, 2);
  const n = answer.agent_ids.length;
  return `broadcast ${answer.control_id} sent to ${n} agent${n === 1 ? '' : 's'}${n ? `: ${answer.agent_ids.join(', ')}` : ''}`;
}
