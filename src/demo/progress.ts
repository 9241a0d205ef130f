/** A domain event as it arrives on `omoi.evt.>` (the envelope's type and payload). */
export interface DemoEvent {
  type: string;
  payload: Record<string, any>;
}

/** What the progress printer knows beyond the event: task titles, and details looked up later. */
export interface ProgressContext {
  titles: Record<string, string>;
}

const short = (sha: unknown) => (typeof sha === 'string' ? sha.slice(0, 7) : '?');
const list = (items: unknown) => (Array.isArray(items) && items.length ? items.join(', ') : 'none');

/**
 * One readable line for a ticket event, or `undefined` for events the demo does not narrate
 * (`assigned`, `waiting_for_files` — the ownership line says it —, claim releases, …).
 * Pure: the same event gives the same line. `merge.attempted` gets its resolutions appended
 * by the caller, which reads them from the merge attempt row.
 */
export function describeEvent(e: DemoEvent, ctx: ProgressContext): string | undefined {
  const p = e.payload;
  const reason: string | undefined = typeof p.reason === 'string' ? oneLine(p.reason) : undefined;
  const task = (id: string) => (ctx.titles[id] ? `${id} (${ctx.titles[id]})` : id);
  switch (e.type) {
    case 'ticket.created':
      return `ticket ${p.ticket_id} created: tasks ${list(p.tasks)}; joins ${list(p.joins)}`;
    case 'ticket.rejected':
      return `ticket ${p.ticket_id} REJECTED (${p.code}): ${reason}`;
    case 'ticket.completed':
      return `ticket completed: branch omoi/${p.ticket_id} at ${short(p.head)}`;
    case 'ticket.ended':
      return `ticket ${p.status.toUpperCase()}: ${reason ?? 'no reason given'}`;
    case 'ownership.status':
      if (p.status === 'granted') return `claim granted: ${p.task_id} owns ${p.globs.length ? p.globs.join(', ') : '(no files)'}`;
      if (p.status === 'waiting') return `claim waiting: ${p.task_id} wants ${p.globs.join(', ')}, held by ${list(p.blocked_by)}`;
      return undefined;
    case 'task.status':
      switch (p.status) {
        case 'ready':
          return reason?.startsWith('retry after:') ? `task ${p.task_id} ready again (${reason})` : `task ${task(p.task_id)} ready on ${short(p.base)}`;
        case 'running': return `task ${p.task_id} running${p.agent_id ? ` on agent ${p.agent_id}` : ''} (attempt ${p.attempt})`;
        case 'completed': return `task ${p.task_id} completed: commit ${short(p.commit)} on omoi-task/${p.ticket_id}/${p.task_id}`;
        case 'failed': return `task ${p.task_id} FAILED: ${reason ?? 'no reason given'}`;
        case 'blocked': return `task ${p.task_id} BLOCKED: ${reason ?? 'no reason given'}${p.files?.length ? ` (files ${p.files.join(', ')})` : ''}`;
        case 'cancelled': return `task ${p.task_id} cancelled: ${reason ?? ''}`;
        case 'pending': return `task ${p.task_id} pending again`;
        default: return undefined;
      }
    case 'task.ownership_violation':
      return p.mode === 'lenient'
        ? `ownership warning: ${p.task_id} changed ${p.files.join(', ')} outside its claims (lenient ticket: allowed)`
        : `ownership violation: ${p.task_id} changed ${p.files.join(', ')} outside its claims (strict: the attempt fails)`;
    case 'join.status':
      switch (p.status) {
        case 'collecting':
          if (typeof p.source === 'string') return `join ${p.join_id} collecting: ${p.collected}/${p.of} sources done (${p.source}) for ${p.continuation}`;
          return `join ${p.join_id} registered: ${p.continuation} will run on the merge of ${list(p.sources)}${p.collected ? ` (${p.collected}/${p.of} already done)` : ''}`;
        case 'merging': return `join ${p.join_id} merging ${list(p.sources)} in a merge sandbox`;
        case 'merged': return `join ${p.join_id} merged: ${p.continuation} will run on merge commit ${short(p.commit)}`;
        case 'blocked': return `join ${p.join_id} BLOCKED: ${reason ?? ''}${p.files?.length ? ` (files ${p.files.join(', ')})` : ''}`;
        default: return undefined;
      }
    case 'join.synthesized':
      return `join ${p.join_id} synthesized the results of ${p.sources.join(', ')} (${p.strategy}${p.collisions?.length ? `, ${p.collisions.length} key collisions` : ''})`;
    case 'merge.attempted': {
      const conflicts = Object.entries(p.conflicts as Record<string, string[]>).filter(([, files]) => files.length);
      const what = conflicts.length ? `conflicts ${conflicts.map(([s, f]) => `${s}: ${f.join(', ')}`).join('; ')}` : 'no conflicts';
      const outcome = p.ok ? `merge commit ${short(p.commit)}` : `FAILED, unresolved ${list(p.files)}`;
      return `merge ${p.join_id}: order ${p.order.join(' → ')}; ${what}; ${outcome}`;
    }
    case 'agent.mismatch':
      return `task ${p.task_id}: no agent matches (phase ${p.phase}, capabilities ${list(p.required)})`;
    default:
      return undefined;
  }
}

/** Whitespace runs (a tail's newlines) as single spaces, trimmed. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** `[ 12.3s] ` — the elapsed time prefix of a progress line. */
export function elapsed(ms: number): string {
  return `[${(ms / 1000).toFixed(1).padStart(5)}s]`;
}
