import { Type } from '@sinclair/typebox';
import { ActorType, OBSERVERS, command, event } from '../define.ts';
import { Id, JoinId, Sha, TicketRef } from './common.ts';

const route = (p: { ticket_id: string }) => ({ entity: 'ticket' as const, id: p.ticket_id });
const JoinRef = { ...TicketRef, join_id: JoinId };

/**
 * Why a merge attempt failed, as data: `conflict` — conflicts stayed unresolved (`files` names
 * them; a person may supply a resolution); `error` — the merge could not run (git failure,
 * or its MergeActor exhausted its restarts). Decisions are made on this field, never on `reason`.
 */
export const MergeFailure = { conflict: 'conflict', error: 'error' } as const;
export type MergeFailure = (typeof MergeFailure)[keyof typeof MergeFailure];

export const MergeResolve = command({
  type: 'merge.resolve',
  description: 'A person resumes a join blocked by a failed merge (`merge_conflict` or `merge_error`), in one of two ways (exactly one): `commit`, the resolved merge commit they made (the continuation resumes on it); or `rerun_resolver: true`, a new merge attempt that runs the ticket\'s configured resolver chain again (its `merge.attempted` and `join.status` tell how it went; it may block again). Routed through the TicketActor, which asks the JoinActor and resumes the continuation in one transaction. Refused (an `error.rejected` event and a dead letter, by code): a join not blocked by its merge (`join_not_blocked_by_merge`), a commit not in the repository (`unknown_commit`), a re-run of a conflict on a ticket without `resolver_command` (`no_resolver`) or of one over its `max_conflicts_auto_resolve` (`too_many_conflicts`).',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Union([
    Type.Object({ ...JoinRef, commit: Sha }, { additionalProperties: false }),
    Type.Object({ ...JoinRef, rerun_resolver: Type.Literal(true, { description: 'start a new merge attempt with the configured resolver instead of supplying a commit' }) }, { additionalProperties: false }),
  ], { errorMessage: 'give exactly one of `commit` (the 40-hex sha of your merge commit) or `rerun_resolver: true`' }),
  example: { ticket_id: 'T1', join_id: 'join-D', commit: '0123456789abcdef0123456789abcdef01234567' },
});

export const JoinStatusChanged = event({
  type: 'join.status',
  description: 'A join changed state: registered (`collecting`, with its `sources`), collecting (one more source recorded: `source`, and no list), merging (every source in: the last one recorded goes straight to this), merged (with `commit`), blocked (with `reason`, and `files` for a merge conflict). Every event counts the sources recorded so far (`collected`) out of all (`of`), so its size does not grow with the join; `sources` (the full list) is sent only on registration and on a change of status.',
  consumers: OBSERVERS,
  payload: Type.Object({
    ...JoinRef,
    status: Type.String(),
    continuation: Type.String(),
    collected: Type.Integer({ minimum: 0 }),
    of: Type.Integer({ minimum: 0 }),
    source: Type.Optional(Type.String()),
    sources: Type.Optional(Type.Array(Type.String())),
    reason: Type.Optional(Type.String()),
    commit: Type.Optional(Type.String()),
    files: Type.Optional(Type.Array(Type.String())),
  }),
  example: { ticket_id: 'T1', join_id: 'join-D', status: 'collecting', continuation: 'D', collected: 1, of: 2, source: 'B' },
});

export const JoinSynthesized = event({
  type: 'join.synthesized',
  description: 'The results of every source were synthesized into the continuation\'s context (strategy, sources, key collisions).',
  consumers: OBSERVERS,
  payload: Type.Object({ ...JoinRef, strategy: Type.String(), sources: Type.Array(Type.String()), collisions: Type.Array(Type.Unknown()) }),
  example: { ticket_id: 'T1', join_id: 'join-D', strategy: 'combine', sources: ['B', 'C'], collisions: [] },
});

export const MergeAttempted = event({
  type: 'merge.attempted',
  description: 'A MergeActor finished an attempt: the order, conflicts per source, resolutions, resolver output tail, and the commit or the unresolved files.',
  consumers: OBSERVERS,
  payload: Type.Object({
    ...JoinRef,
    ok: Type.Boolean(),
    commit: Type.Optional(Type.String()),
    order: Type.Array(Type.String()),
    conflicts: Type.Record(Type.String(), Type.Array(Type.String())),
    files: Type.Array(Type.String()),
    duration_ms: Type.Number(),
  }),
  example: { ticket_id: 'T1', join_id: 'join-D', ok: true, commit: '0123456789abcdef0123456789abcdef01234567', order: ['C', 'B'], conflicts: { B: [], C: [] }, files: [], duration_ms: 42 },
});

export const MergeFinished = command({
  type: 'merge.finished',
  description: 'Internal: a MergeActor (the nact child of the join\'s JoinActor) reports the outcome of one merge attempt of a join (published with Nats-Msg-Id `merge-finished:<ticket>:<join>:<attempt>`). `ok: false` always carries `failure`: `conflict` (unresolved `files`) or `error` (the merge could not run, or its MergeActor exhausted its restarts; `reason` says why, for people). The TicketActor records the MergeAttempt row, asks the JoinActor to record the merge commit once, and resumes or blocks the continuation; the JoinActor then stops the MergeActor.',
  handledBy: ActorType.TicketActor,
  ingress: false,
  route,
  payload: Type.Object({
    ...JoinRef,
    attempt: Type.Integer({ minimum: 1 }),
    ok: Type.Boolean(),
    commit: Type.Optional(Sha),
    failure: Type.Optional(Type.Union([Type.Literal(MergeFailure.conflict), Type.Literal(MergeFailure.error)])),
    reason: Type.Optional(Type.String({ maxLength: 20_000 })),
    order: Type.Array(Type.String()),
    conflicts: Type.Record(Type.String(), Type.Array(Type.String())),
    resolutions: Type.Array(Type.Unknown()),
    files: Type.Array(Type.String()),
    resolver_output: Type.String(),
    resolver_exit_code: Type.Optional(Type.Union([Type.Integer(), Type.Null()], { description: 'the resolver command\'s exit code in its last run (null: killed or timed out; absent: none ran)' })),
    hunks: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 16_384 }), { description: 'each file left unresolved → its conflict regions with markers and a little context (at most 20 files, 8 KiB each)' })),
    duration_ms: Type.Number(),
  }, { additionalProperties: false }),
  example: { ticket_id: 'T1', join_id: 'join-D', attempt: 1, ok: true, commit: '0123456789abcdef0123456789abcdef01234567', order: ['C', 'B'], conflicts: { B: [], C: [] }, resolutions: [], files: [], resolver_output: '', duration_ms: 42 },
});
