import { EntitySchema, type Opt } from '@mikro-orm/core';
import type { Budget, BudgetMarks, Spend } from '../../budget/index.ts';

/** The spend of a row written before any attempt reported (the migration's column default). */
const NO_SPEND_SQL = `'{"cost_usd":0,"wall_ms":0,"input_tokens":0,"output_tokens":0,"attempts":0}'`;

export interface TicketRow {
  id: string; title: string; repository: string; base_branch: string; base_commit: string | null;
  status: string; ownership: string; resolver_command: string | null; check_command: string | null;
  /** Most conflicted files its merges hand to `resolver_command` (null: no limit; `ticket.create`). */
  max_conflicts_auto_resolve?: number | null;
  /** false: its commands run with no network (`ticket.create` `network`). */
  network: Opt<boolean>;
  head: string | null; reason: string | null; failed_reason: string | null;
  /** Every task completed and the final merge of its several sinks is under way (`reason` is for people only). */
  finalizing: Opt<boolean>;
  /** Its budget (null: none), what its attempts used, which budget lines were announced, and whether a limit is reached. */
  budget: Budget | null; spend: Opt<Spend>; budget_marks: Opt<BudgetMarks>; budget_exceeded: Opt<boolean>;
  /** The last change (of the ticket or a task) a `ticket.stalled` was raised for: once per stall. */
  stalled_since?: Date | null;
  /** Human gates it waits at (`ticket.create` `approvals`): `before_execute`, `before_delivery`. */
  approvals?: Opt<string[]>;
  /** Where its branch goes once completed (`ticket.create` `delivery`; null: not delivered). */
  delivery?: TicketDelivery | null;
  /** Where its delivery stands (null: no delivery, or not completed yet); see src/actors/ticket/delivery.ts. */
  delivery_status?: string | null;
  /** Pushes asked so far: each `ticket.deliver` after a failure starts a new round (`omoi_ticket_push`). */
  delivery_round?: Opt<number>;
  delivery_attempts?: Opt<number>;
  delivered_commit?: string | null;
  pull_request_url?: string | null;
  pull_request_error?: string | null;
  delivery_error?: string | null;
  /** Set by a SpecActor: the spec (and phase) this ticket runs; the spec is told when it ends. */
  spec_id?: string | null; spec_phase?: string | null;
  created_at: Date; updated_at: Date; version: number;
}

/** A ticket's delivery as asked for (`ticket.create` `delivery`); absent fields take their defaults when it is pushed. */
export interface TicketDelivery { remote?: string; branch?: string; pull_request_command?: string }
export const TicketEntity = new EntitySchema<TicketRow>({
  name: 'TicketRow',
  tableName: 'omoi_ticket',
  properties: {
    id: { type: 'string', primary: true },
    title: { type: 'text' },
    repository: { type: 'text' },
    base_branch: { type: 'string' },
    base_commit: { type: 'string', nullable: true },
    status: { type: 'string', index: true },
    ownership: { type: 'string' },
    resolver_command: { type: 'text', nullable: true },
    check_command: { type: 'text', nullable: true },
    max_conflicts_auto_resolve: { type: 'integer', nullable: true },
    network: { type: 'boolean', default: true },
    head: { type: 'string', nullable: true },
    reason: { type: 'text', nullable: true },
    failed_reason: { type: 'text', nullable: true },
    finalizing: { type: 'boolean', default: false },
    budget: { type: 'json', nullable: true },
    spend: { type: 'json', defaultRaw: NO_SPEND_SQL },
    budget_marks: { type: 'json', defaultRaw: `'{}'` },
    budget_exceeded: { type: 'boolean', default: false },
    stalled_since: { type: 'Date', nullable: true },
    approvals: { type: 'json', defaultRaw: `'[]'` },
    delivery: { type: 'json', nullable: true },
    delivery_status: { type: 'string', nullable: true },
    delivery_round: { type: 'integer', default: 0 },
    delivery_attempts: { type: 'integer', default: 0 },
    delivered_commit: { type: 'string', nullable: true },
    pull_request_url: { type: 'text', nullable: true },
    pull_request_error: { type: 'text', nullable: true },
    delivery_error: { type: 'text', nullable: true },
    spec_id: { type: 'string', nullable: true, index: true },
    spec_phase: { type: 'string', nullable: true },
    created_at: { type: 'Date' },
    updated_at: { type: 'Date' },
    version: { type: 'integer', default: 1 },
  },
});

/** A task of a ticket: its spec (what to run, claims, dependencies) and where it stands. */
export interface TaskRow {
  ticket_id: string; id: string; spec: Record<string, unknown>; depends_on: string[]; owns: string[];
  status: string; attempt: number; base_commit: string | null; commit: string | null; result: unknown;
  reason: string | null; agent_id: string | null; context: unknown; ready_since: Date | null;
  /** Ready, but no registered agent matches it; `agent.mismatch` was emitted once for this state. */
  unmatched: Opt<boolean>;
  /** The attempt's last progress: a `task.progress` report, or output of a local command. */
  progress_at?: Date | null;
  /** The attempt `task.stalled` was raised for (once per attempt). */
  stalled_attempt?: number | null;
  /** Who cancelled the task (the cancel's source: `http:<principal>`, a node, an agent); why is in `reason`. */
  cancelled_by?: string | null;
  /** Attempts made before the last `task.retry`: retries are counted from here (`attempt - attempt_base <= max_retries`). */
  attempt_base?: number;
  /** Who retried the task last (the `task.retry`'s source) and why. */
  retried_by?: string | null;
  retry_reason?: string | null;
  created_at: Date; updated_at: Date; version: number;
}
export const TaskEntity = new EntitySchema<TaskRow>({
  name: 'TaskRow',
  tableName: 'omoi_task',
  properties: {
    ticket_id: { type: 'string', primary: true },
    id: { type: 'string', primary: true },
    spec: { type: 'json' },
    depends_on: { type: 'json' },
    owns: { type: 'json' },
    status: { type: 'string', index: true },
    attempt: { type: 'integer' },
    base_commit: { type: 'string', nullable: true },
    commit: { type: 'string', nullable: true },
    result: { type: 'json', nullable: true },
    reason: { type: 'text', nullable: true },
    agent_id: { type: 'string', nullable: true, index: true },
    context: { type: 'json', nullable: true },
    ready_since: { type: 'Date', nullable: true },
    unmatched: { type: 'boolean', default: false },
    progress_at: { type: 'Date', nullable: true },
    stalled_attempt: { type: 'integer', nullable: true },
    cancelled_by: { type: 'text', nullable: true },
    attempt_base: { type: 'integer', default: 0 },
    retried_by: { type: 'text', nullable: true },
    retry_reason: { type: 'text', nullable: true },
    created_at: { type: 'Date' },
    updated_at: { type: 'Date' },
    version: { type: 'integer', default: 1 },
  },
});

/** A file claim of a task within its ticket (the OwnershipActor's scope). */
export interface FileClaimRow { ticket_id: string; task_id: string; globs: string[]; status: 'held' | 'waiting'; seq: number }
export const FileClaimEntity = new EntitySchema<FileClaimRow>({
  name: 'FileClaimRow',
  tableName: 'omoi_file_claim',
  properties: {
    ticket_id: { type: 'string', primary: true },
    task_id: { type: 'string', primary: true },
    globs: { type: 'json' },
    status: { type: 'string' },
    seq: { type: 'integer' },
  },
});

/**
 * A join of a ticket. Which sources completed is not in this row but in `omoi_join_source`
 * (one row per source), so recording a completion writes O(1) bytes, not the whole map.
 */
export interface JoinRow {
  ticket_id: string; id: string; continuation: string; sources: string[];
  status: string; strategy: string; synthesis: unknown; merge_commit: string | null; reason: string | null;
  /** What blocked it, as data (`JoinBlockedBy` in the JoinActor); `reason` is for people. Null unless `blocked`. */
  blocked_by: string | null;
  files: string[] | null; attempts: number; created_at: Date; updated_at: Date; version: number;
}
export const JoinEntity = new EntitySchema<JoinRow>({
  name: 'JoinRow',
  tableName: 'omoi_join',
  properties: {
    ticket_id: { type: 'string', primary: true },
    id: { type: 'string', primary: true },
    continuation: { type: 'string' },
    sources: { type: 'json' },
    status: { type: 'string' },
    strategy: { type: 'string' },
    synthesis: { type: 'json', nullable: true },
    merge_commit: { type: 'string', nullable: true },
    reason: { type: 'text', nullable: true },
    blocked_by: { type: 'string', nullable: true },
    files: { type: 'json', nullable: true },
    attempts: { type: 'integer' },
    created_at: { type: 'Date' },
    updated_at: { type: 'Date' },
    version: { type: 'integer', default: 1 },
  },
});

/** One completed source of a join: the head commit of its branch and its JSON result. */
export interface JoinSourceRow { ticket_id: string; join_id: string; source: string; commit: string; result: unknown; completed_at: Date }
export const JoinSourceEntity = new EntitySchema<JoinSourceRow>({
  name: 'JoinSourceRow',
  tableName: 'omoi_join_source',
  properties: {
    ticket_id: { type: 'string', primary: true },
    join_id: { type: 'string', primary: true },
    source: { type: 'string', primary: true },
    commit: { type: 'string' },
    result: { type: 'json', nullable: true },
    completed_at: { type: 'Date' },
  },
});

/** One merge attempt of a join: what was tried, what conflicted, who resolved what. */
export interface MergeAttemptRow {
  id?: number; ticket_id: string; join_id: string; attempt: number; ok: boolean; commit: string | null;
  merge_order: string[]; conflicts: Record<string, string[]>; resolutions: unknown; files: string[];
  resolver_output: string; duration_ms: number; created_at: Date;
  /** Each file left unresolved → its conflict regions with markers (bounded: `HUNK_LIMITS` in src/git/conflict-hunks.ts). */
  conflict_hunks: Opt<Record<string, string>>;
  /** The resolver command's exit code in its last run; null when none ran or it was killed. */
  resolver_exit_code?: number | null;
}
export const MergeAttemptEntity = new EntitySchema<MergeAttemptRow>({
  name: 'MergeAttemptRow',
  tableName: 'omoi_merge_attempt',
  uniques: [{ properties: ['ticket_id', 'join_id', 'attempt'] }],
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    ticket_id: { type: 'string' },
    join_id: { type: 'string' },
    attempt: { type: 'integer' },
    ok: { type: 'boolean' },
    commit: { type: 'string', nullable: true },
    merge_order: { type: 'json' },
    conflicts: { type: 'json' },
    resolutions: { type: 'json' },
    files: { type: 'json' },
    resolver_output: { type: 'text' },
    duration_ms: { type: 'integer' },
    conflict_hunks: { type: 'json', defaultRaw: `'{}'` },
    resolver_exit_code: { type: 'integer', nullable: true },
    created_at: { type: 'Date' },
  },
});

export interface AgentRow {
  id: string; name: string; phase: string; capabilities: string[]; agent_version: string; kind: string;
  public_key: string | null; status: string; capacity: number; running: string[];
  registered_at: Date; last_heartbeat_at: Date | null; restarts: number; restart_window_start: Date | null;
  reason: string | null;
  /** Its budget (null: none), what its attempts used, which budget lines were announced, and whether a limit is reached. */
  budget: Budget | null; spend: Opt<Spend>; budget_marks: Opt<BudgetMarks>; budget_exceeded: Opt<boolean>;
  updated_at: Date; version: number;
  /** Stops sent and not acknowledged yet (a remote agent's): each keeps its attempt's slot until acknowledged or timed out. */
  stopping?: Array<{ key: string; at: string }>;
  /** Draining (`agent.drain`): it keeps its running attempts and is offered no new ones, until `agent.undrain`. */
  draining?: boolean;
  /** Controls sent on `omoi.agent.<id>.control`, newest last (the last 20; see `AgentControlRecord`). */
  controls?: AgentControlRecord[];
  /** Told to shut down (`agent.shutdown`): draining, and removed (reason `shutdown`) once its attempts end. */
  shutting_down?: boolean;
}

/**
 * One control sent to an agent. `status`: `sent` (no acknowledgement asked: undrain,
 * broadcast), `awaiting_ack` (drain, shutdown), `acknowledged`, or `overdue` (not acknowledged
 * within `OMOI_STOP_ACK_TIMEOUT_MS`; a later acknowledgement still counts).
 */
export interface AgentControlRecord {
  control_id: string; kind: string; at: string; status: 'sent' | 'awaiting_ack' | 'acknowledged' | 'overdue';
  acknowledged_at?: string; overdue_at?: string;
}
export const AgentEntity = new EntitySchema<AgentRow>({
  name: 'AgentRow',
  tableName: 'omoi_agent',
  properties: {
    id: { type: 'string', primary: true },
    name: { type: 'string' },
    phase: { type: 'string', index: true },
    capabilities: { type: 'json' },
    agent_version: { type: 'string' },
    kind: { type: 'string' },
    public_key: { type: 'text', nullable: true },
    status: { type: 'string', index: true },
    capacity: { type: 'integer' },
    running: { type: 'json' },
    registered_at: { type: 'Date' },
    last_heartbeat_at: { type: 'Date', nullable: true },
    restarts: { type: 'integer' },
    restart_window_start: { type: 'Date', nullable: true },
    reason: { type: 'text', nullable: true },
    budget: { type: 'json', nullable: true },
    spend: { type: 'json', defaultRaw: NO_SPEND_SQL },
    budget_marks: { type: 'json', defaultRaw: `'{}'` },
    budget_exceeded: { type: 'boolean', default: false },
    updated_at: { type: 'Date' },
    version: { type: 'integer', default: 1 },
    stopping: { type: 'json', default: '[]' },
    draining: { type: 'boolean', default: false },
    controls: { type: 'json', default: '[]' },
    shutting_down: { type: 'boolean', default: false },
  },
});

/**
 * The usage of one task attempt (one row per attempt, written by its TicketActor with the
 * attempt's live report): `outcome` completed or failed, `usage` as reported (`Usage` of the protocol).
 */
export interface AttemptUsageRow {
  ticket_id: string; task_id: string; attempt: number; agent_id: string | null; outcome: string;
  model: string | null; usage: Record<string, unknown>; recorded_at: Date;
}
export const AttemptUsageEntity = new EntitySchema<AttemptUsageRow>({
  name: 'AttemptUsageRow',
  tableName: 'omoi_attempt_usage',
  properties: {
    ticket_id: { type: 'string', primary: true },
    task_id: { type: 'string', primary: true },
    attempt: { type: 'integer', primary: true },
    agent_id: { type: 'string', nullable: true },
    outcome: { type: 'string' },
    model: { type: 'string', nullable: true },
    usage: { type: 'json' },
    recorded_at: { type: 'Date' },
  },
});
