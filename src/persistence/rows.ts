import { isTaskState, isTicketState, type SynthesisStrategy, type TaskSpec, type TaskState, type TicketState } from '../dag/index.ts';
import { NO_SPEND } from '../budget/index.ts';
import type { TaskRow, TicketRow } from './entities/dag.ts';

/**
 * The typed view of the DAG rows, decoded in one place: what the ORM reads is plain JSON in
 * loosely typed columns (`status` a string, `spec` a JSON object); actor code sees these.
 * A row that does not decode is data corruption: `RowDecodeError`, never a silent cast.
 */
export interface Ticket extends Omit<TicketRow, 'status' | 'ownership'> {
  status: TicketState;
  ownership: 'strict' | 'lenient';
}
export interface Task extends Omit<TaskRow, 'status' | 'spec'> {
  status: TaskState;
  spec: TaskSpec;
}

export class RowDecodeError extends Error {
  override readonly name = 'RowDecodeError';
  constructor(readonly table: string, readonly key: string, readonly field: string, value: unknown) {
    super(`row_decode: ${table} ${key}: ${field} ${JSON.stringify(value)} is not valid`);
  }
}

export function toTicket(row: TicketRow): Ticket {
  if (!isTicketState(row.status)) throw new RowDecodeError('omoi_ticket', row.id, 'status', row.status);
  if (row.ownership !== 'strict' && row.ownership !== 'lenient') throw new RowDecodeError('omoi_ticket', row.id, 'ownership', row.ownership);
  return {
    ...row, status: row.status, ownership: row.ownership, finalizing: row.finalizing ?? false, network: row.network ?? true,
    budget: row.budget ?? null, spend: row.spend ?? NO_SPEND, budget_marks: row.budget_marks ?? {}, budget_exceeded: row.budget_exceeded ?? false,
  };
}

export function toTask(row: TaskRow): Task {
  const key = `${row.ticket_id}/${row.id}`;
  if (!isTaskState(row.status)) throw new RowDecodeError('omoi_task', key, 'status', row.status);
  return { ...row, status: row.status, spec: toTaskSpec(row, key), unmatched: row.unmatched ?? false, attempt_base: row.attempt_base ?? 0 };
}

/** The row to write: the typed view is already row-shaped but for the JSON spec. */
export function fromTask(task: Task): TaskRow {
  return { ...task, spec: { ...task.spec } };
}

/** Defaults are those of the protocol's TaskSpec schema (the edge fills them before a row is written). */
function toTaskSpec(row: TaskRow, key: string): TaskSpec {
  const s = row.spec;
  if (!s || typeof s !== 'object') throw new RowDecodeError('omoi_task', key, 'spec', s);
  const str = (field: string, fallback: string) => (typeof s[field] === 'string' ? (s[field] as string) : fallback);
  const int = (field: string, fallback: number) => (typeof s[field] === 'number' ? (s[field] as number) : fallback);
  const strings = (field: string) => (Array.isArray(s[field]) ? (s[field] as unknown[]).map(String) : []);
  const spec: TaskSpec = {
    id: row.id, depends_on: row.depends_on, owns: row.owns, capabilities: strings('capabilities'), phase: str('phase', 'execute'),
    priority: int('priority', 0), kind: s.kind === 'agent' ? 'agent' : 'command', run: str('run', ''),
    max_retries: int('max_retries', 2), timeout_ms: int('timeout_ms', 600_000),
  };
  if (typeof s.title === 'string') spec.title = s.title;
  if (s.synthesis === 'combine' || s.synthesis === 'union' || s.synthesis === 'intersection') spec.synthesis = s.synthesis as SynthesisStrategy;
  return spec;
}
