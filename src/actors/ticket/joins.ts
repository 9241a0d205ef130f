import { TaskState } from '../../dag/index.ts';
import { TerminalError } from '../../errors.ts';
import { attachTicketClone, resolveCommit } from '../../git/index.ts';
import { emit } from '../../messaging/typed.ts';
import { JoinEntity, MergeAttemptEntity, type Task } from '../../persistence/index.ts';
import type { PayloadOf } from '../../protocol/index.ts';
import type { JoinReply } from '../join-actor.ts';
import { askJoin, setTask, setTicket, type Work } from './work.ts';

/** What the JoinActor answered: a merged join gives its continuation a base; a blocked one blocks it. */
export function onJoinReply(w: Work, reply: JoinReply): void {
  if (reply.kind === 'merged') {
    const c = w.s.tasks.get(reply.continuation)!;
    const patch: Partial<Task> = { base_commit: reply.commit, context: reply.synthesis, reason: null };
    // A continuation blocked by a merge conflict resumes: it is scheduled again on the resolved commit.
    if (c.status === TaskState.blocked) patch.status = TaskState.pending;
    setTask(w, c.id, patch, false);
  } else if (reply.kind === 'blocked') {
    const c = w.s.tasks.get(reply.continuation)!;
    if (c.status === TaskState.pending) setTask(w, c.id, { status: TaskState.blocked, reason: reply.reason }, reply.files.length ? { files: reply.files } : {});
  }
}

/** `merge.finished`: the MergeAttempt row, its event, and the join's verdict. */
export async function mergeFinished(w: Work, p: PayloadOf<'merge.finished'>): Promise<void> {
  const { scope } = w.ctx;
  scope.uow.upsert(MergeAttemptEntity, ['ticket_id', 'join_id', 'attempt'], {
    ticket_id: p.ticket_id, join_id: p.join_id, attempt: p.attempt, ok: p.ok, commit: p.commit ?? null, merge_order: p.order,
    conflicts: p.conflicts, resolutions: p.resolutions, files: p.files, resolver_output: p.reason ? `${p.reason}\n${p.resolver_output}` : p.resolver_output,
    duration_ms: Math.round(p.duration_ms), created_at: scope.now, conflict_hunks: p.hunks ?? {}, resolver_exit_code: p.resolver_exit_code ?? null,
  });
  emit(scope, 'merge.attempted', {
    ticket_id: p.ticket_id, join_id: p.join_id, ok: p.ok, ...(p.commit ? { commit: p.commit } : {}), order: p.order, conflicts: p.conflicts, files: p.files, duration_ms: p.duration_ms,
  });
  onJoinReply(w, await askJoin(w, p.join_id, { kind: 'merge_finished', attempt: p.attempt, ok: p.ok, commit: p.commit, files: p.files, failure: p.failure, reason: p.reason }));
}

/**
 * `merge.resolve`: a person resumes a join its merge blocked, with their merge commit, or with a
 * new merge attempt running the ticket's resolver again (`rerun_resolver`): the continuation
 * stays blocked until that attempt reports (`merge.finished`).
 */
export async function resolve(w: Work, p: PayloadOf<'merge.resolve'>): Promise<void> {
  if (!('commit' in p)) {
    onJoinReply(w, await askJoin(w, p.join_id, { kind: 'rerun', resolverConfigured: !!w.s.ticket.resolver_command }));
    return;
  }
  const repoDir = w.repoDir(w.s.ticket.id);
  // Fetched by `TicketBehavior.prepare`: the resolution was pushed to the user's repository.
  await attachTicketClone(w.deps.dataDir, w.s.ticket.id, w.s.ticket.repository, p.commit);
  try {
    await resolveCommit(repoDir, p.commit);
  } catch {
    throw new TerminalError('unknown_commit', `commit ${p.commit} is not in ${w.s.ticket.repository}`, { commit: p.commit });
  }
  onJoinReply(w, await askJoin(w, p.join_id, { kind: 'resolve', commit: p.commit }));
}

/** `ticket.wake`: restart the merges of joins in `merging`, and the final merge if one was under way. */
export async function wake(w: Work): Promise<void> {
  await w.ctx.scope.uow.flush();
  const merging = await w.ctx.scope.em.find(JoinEntity, { ticket_id: w.s.ticket.id, status: 'merging' }, { disableIdentityMap: true });
  for (const j of merging) await askJoin(w, j.id, { kind: 'wake' });
  if (w.s.ticket.finalizing) setTicket(w, { finalizing: false }); // re-run the final merge when scheduling
}
