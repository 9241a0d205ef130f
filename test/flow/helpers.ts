import path from 'node:path';
import type { OmoiNode } from '../../src/bootstrap.ts';
import { git, waitFor } from '../harness/index.ts';

/** A task spec with the defaults a client would get filled in. */
export function task(id: string, run: string, more: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, run, depends_on: [], owns: [], ...more };
}

export async function sql<T = Record<string, unknown>>(node: OmoiNode, query: string, params: unknown[] = []): Promise<T[]> {
  return (await node.db.em().getConnection().execute(query, params)) as T[];
}

export async function ticketRow(node: OmoiNode, id: string): Promise<Record<string, any> | undefined> {
  return (await sql(node, 'select * from omoi_ticket where id = ?', [id]))[0];
}

export async function taskRows(node: OmoiNode, ticket: string): Promise<Record<string, Record<string, any>>> {
  const rows = await sql<Record<string, any>>(node, 'select * from omoi_task where ticket_id = ? order by id', [ticket]);
  return Object.fromEntries(rows.map((r) => [r.id, r]));
}

/** Waits until the ticket reaches `status` (or any terminal state, which fails the wait with a clear message). */
export async function waitTicket(node: OmoiNode, id: string, status: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  return waitFor(`ticket ${id} ${status}`, async () => {
    const row = await ticketRow(node, id);
    if (row && row.status !== status && ['completed', 'failed', 'cancelled'].includes(row.status)) {
      throw new Error(`ticket ${id} ended ${row.status} (${row.reason}); tasks: ${JSON.stringify(await taskSummary(node, id))}`);
    }
    return row?.status === status ? row : undefined;
  }, { timeoutMs });
}

export async function waitTask(node: OmoiNode, ticket: string, taskId: string, status: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  return waitFor(`task ${ticket}/${taskId} ${status}`, async () => {
    const row = (await taskRows(node, ticket))[taskId];
    return row?.status === status ? row : undefined;
  }, { timeoutMs });
}

export async function taskSummary(node: OmoiNode, ticket: string): Promise<Record<string, string>> {
  const rows = await taskRows(node, ticket);
  return Object.fromEntries(Object.values(rows).map((r) => [r.id, `${r.status}${r.reason ? ` (${r.reason})` : ''}`]));
}

export async function events(node: OmoiNode, ticket: string, type?: string): Promise<Array<{ type: string; payload: any; entity: string | null }>> {
  return type
    ? sql(node, 'select type, payload, entity from omoi_event where ticket_id = ? and type = ? order by time, message_id', [ticket, type])
    : sql(node, 'select type, payload, entity from omoi_event where ticket_id = ? order by time, message_id', [ticket]);
}

/** Omoi's clone of the ticket's repository (a bare repository). */
export function cloneOf(node: OmoiNode, ticket: string): string {
  return path.join(node.config.dataDir, 'repos', ticket);
}

export function gitIn(node: OmoiNode, ticket: string, ...args: string[]): Promise<string> {
  return git(cloneOf(node, ticket), ...args);
}

/** Files of a commit's tree. */
export async function filesAt(node: OmoiNode, ticket: string, commit: string): Promise<string[]> {
  return (await gitIn(node, ticket, 'ls-tree', '-r', '--name-only', commit)).split('\n').filter(Boolean).sort();
}
