import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors.ts';
import { JoinEntity, JoinSourceEntity, MergeAttemptEntity, TicketEntity, type MergeAttemptRow } from '../../persistence/index.ts';
import { Id, JoinId } from '../../protocol/index.ts';
import { errorAnswer, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { paramId, paramInt } from '../request-input.ts';

/** How a source of a join fared in one merge attempt. */
export const SourceOutcome = {
  /** Merged with no conflict. */
  merged: 'merged',
  /** Merged once its conflicts were resolved (built-in rules or the resolver). */
  resolved: 'resolved',
  /** Its conflicts stayed unresolved: the attempt stopped here. */
  conflicted: 'conflicted',
  /** Not merged: the attempt stopped before its turn. */
  not_reached: 'not_reached',
} as const;
export type SourceOutcome = (typeof SourceOutcome)[keyof typeof SourceOutcome];

/**
 * `GET /api/tickets/:id/joins/:join/merges/:attempt` (viewer): one merge attempt of a join as
 * the merge view shows it — the order the sources were merged in, each source's commit,
 * position, outcome and conflicted files, the files left unresolved with their conflict hunks
 * (bounded when stored, see src/git/conflict-hunks.ts), who resolved what, the resolver and
 * check commands of the ticket, the resolver's exit code and the tail of its output; and the
 * join as it stands now (a `blocked` join takes a commit: `POST …/joins/:join/resolve`).
 */
export async function mergeAttemptRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/tickets/:id/joins/:join/merges/:attempt', {
    config: { role: 'viewer' },
    schema: {
      summary: 'One merge attempt of a join: order, outcomes, conflict hunks, resolver', tags: ['tickets'],
      params: Type.Object({ id: Id, join: JoinId, attempt: Type.Integer({ minimum: 1 }) }),
      response: {
        200: Type.Object({
          ticket_id: Type.String(), join_id: Type.String(), attempt: Type.Integer(), ok: Type.Boolean(),
          commit: Type.Union([Type.String(), Type.Null()]), duration_ms: Type.Integer(), created_at: Type.String({ format: 'date-time' }),
          join: Row('the join as it stands: status, continuation, sources, reason, blocked_by, files, attempts, merge_commit'),
          order: Type.Array(Type.String(), { description: 'source ids in the order they were merged (up to the one that stopped it)' }),
          sources: Type.Array(Type.Object({
            id: Type.String(), position: Type.Union([Type.Integer(), Type.Null()]), commit: Type.Union([Type.String(), Type.Null()]),
            outcome: Type.Union(Object.values(SourceOutcome).map((o) => Type.Literal(o))), conflicts: Type.Array(Type.String()),
          })),
          files: Type.Array(Type.Object({ path: Type.String(), hunks: Type.Union([Type.String(), Type.Null()], { description: 'its conflict regions with markers (at most 8 KiB)' }) }), { description: 'the files left unresolved (at most 20 with hunks)' }),
          resolutions: Type.Array(Type.Unknown(), { description: 'who resolved each file: `{ file, source, by }`' }),
          resolver: Type.Object({
            command: Type.Union([Type.String(), Type.Null()]), check_command: Type.Union([Type.String(), Type.Null()]),
            exit_code: Type.Union([Type.Integer(), Type.Null()]), output: Type.String({ description: 'the tail of its output' }),
          }),
        }, { description: 'The merge attempt' }),
        404: errorAnswer('`not_found`: no such ticket, join or attempt'),
      },
    },
  }, async (req) => {
    const ticketId = paramId(req.params, 'id');
    const joinId = paramId(req.params, 'join');
    const attempt = paramInt(req.params, 'attempt');
    const em = deps.db.em();
    const [ticket, join, row, completed] = await Promise.all([
      em.findOne(TicketEntity, { id: ticketId }),
      em.findOne(JoinEntity, { ticket_id: ticketId, id: joinId }),
      em.findOne(MergeAttemptEntity, { ticket_id: ticketId, join_id: joinId, attempt }),
      em.find(JoinSourceEntity, { ticket_id: ticketId, join_id: joinId }),
    ]);
    if (!ticket) throw new NotFoundError('ticket', ticketId);
    if (!join) throw new NotFoundError('join', `${ticketId}/${joinId}`);
    if (!row) throw new NotFoundError('merge attempt', `${ticketId}/${joinId}/${attempt}`);
    const commits = new Map(completed.map((s) => [s.source, s.commit]));
    return {
      ticket_id: ticketId, join_id: joinId, attempt, ok: row.ok, commit: row.commit, duration_ms: row.duration_ms, created_at: row.created_at.toISOString(),
      join: {
        status: join.status, continuation: join.continuation, sources: join.sources, reason: join.reason, blocked_by: join.blocked_by,
        files: join.files, attempts: join.attempts, merge_commit: join.merge_commit,
      },
      order: row.merge_order,
      sources: sourceOutcomes(row, join.sources).map((s) => ({ ...s, commit: commits.get(s.id) ?? null })),
      files: row.files.map((path) => ({ path, hunks: row.conflict_hunks[path] ?? null })),
      resolutions: row.resolutions,
      resolver: {
        command: ticket.resolver_command, check_command: ticket.check_command, exit_code: row.resolver_exit_code ?? null, output: row.resolver_output,
      },
    };
  });
}

/** Each source in merge order (then those never reached, in the join's order), with its outcome and conflicted files. */
function sourceOutcomes(row: MergeAttemptRow, joinSources: string[]): { id: string; position: number | null; outcome: SourceOutcome; conflicts: string[] }[] {
  const out = row.merge_order.map((id, i): { id: string; position: number | null; outcome: SourceOutcome; conflicts: string[] } => {
    const conflicts = row.conflicts[id] ?? [];
    const last = i === row.merge_order.length - 1;
    const outcome = last && !row.ok && row.files.length > 0 ? SourceOutcome.conflicted : conflicts.length ? SourceOutcome.resolved : SourceOutcome.merged;
    return { id, position: i + 1, outcome, conflicts };
  });
  for (const id of joinSources) {
    if (!row.merge_order.includes(id)) out.push({ id, position: null, outcome: SourceOutcome.not_reached, conflicts: [] });
  }
  return out;
}
