import { errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { globMatcher } from '../ownership/index.ts';
import { bounded, significantWords, type MemoryHit, type MemoryStore } from './memory-store.ts';

/** What a starting task is recalled for: its repository, its own identity (left out) and its words. */
export interface RecallRequest {
  repository: string; ticket_id: string; task_id: string;
  title?: string; run: string; owns: readonly string[];
}

/** An earlier result, failure or resolution, as a starting task's `context.memory.results` holds it. */
export interface RecalledResult {
  kind: MemoryHit['kind']; ticket_id: string; task_id: string | null; join_id: string | null;
  title: string; excerpt: string; files: string[]; at: string;
}

/** How an earlier conflict on a file the task owns was resolved (`context.memory.conflicts`). */
export interface RecalledConflict {
  file: string; ticket_id: string; join_id: string | null; source: string;
  /** `rule:<name>` (built-in rule), `resolver` (the ticket's resolver command) or `person` (their commit). */
  resolved_by: string; commit: string | null; at: string;
}

/** `context.memory` of a starting task. */
export interface TaskMemory { results: RecalledResult[]; conflicts: RecalledConflict[] }

/** The seam the TicketActor depends on: never throws; undefined when recall is off or found nothing. */
export interface TaskRecall {
  recall(req: RecallRequest): Promise<TaskMemory | undefined>;
}

/** Longest title of a recalled result, characters (a prompt can be long; the excerpt says what came of it). */
const TITLE_MAX = 300;

/** Merge resolutions looked at for a task's owned files (newest first). */
const RESOLUTIONS_SCANNED = 200;

/**
 * Recalls, for a task about to be assigned, the few most relevant earlier rows of its
 * repository's memory, and how earlier conflicts on the files it owns were resolved.
 *
 * 1. Relevance: an OR of the significant words of the task's title, run/prompt and owned globs,
 *    ranked by `ts_rank`; same repository only; never the task's own rows.
 * 2. Bounded: `limit` results and `limit` conflicts, excerpts of `MEMORY_EXCERPT_MAX`.
 * 3. Never in the way: the whole recall has `timeoutMs` (statements are cancelled past it); a
 *    failure or timeout is logged and the task starts with no memory. It never throws.
 */
export class MemoryRecall implements TaskRecall {
  constructor(private readonly deps: { store: MemoryStore; log: Logger; limit: number; timeoutMs: number }) {}

  async recall(req: RecallRequest): Promise<TaskMemory | undefined> {
    const { limit, timeoutMs } = this.deps;
    if (limit <= 0) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), timeoutMs); timer.unref(); });
    try {
      const found = await Promise.race([this.find(req, limit, timeoutMs), late]);
      if (found === 'late') {
        this.deps.log.warn({ ticket: req.ticket_id, task: req.task_id, timeoutMs }, 'memory: recall took too long; the task starts without memory');
        return undefined;
      }
      return found.results.length || found.conflicts.length ? found : undefined;
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), ticket: req.ticket_id, task: req.task_id }, 'memory: recall failed; the task starts without memory');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private async find(req: RecallRequest, limit: number, timeoutMs: number): Promise<TaskMemory> {
    const words = significantWords([req.title ?? '', req.run, ...req.owns].join(' '));
    const excludeTask = { ticket_id: req.ticket_id, task_id: req.task_id };
    const [hits, resolutions] = await Promise.all([
      this.deps.store.anyOf(words, { repository: req.repository, limit, excludeTask, timeoutMs }),
      req.owns.length ? this.deps.store.resolutions(req.repository, RESOLUTIONS_SCANNED, timeoutMs) : Promise.resolve([]),
    ]);
    return { results: hits.map(toResult), conflicts: conflictsOn(req.owns, resolutions, limit) };
  }
}

function toResult(h: MemoryHit): RecalledResult {
  return { kind: h.kind, ticket_id: h.ticket_id, task_id: h.task_id, join_id: h.join_id, title: bounded(h.title, TITLE_MAX), excerpt: h.excerpt, files: h.files.slice(0, 20), at: h.created_at };
}

/** The newest resolution of each owned file that conflicted before, at most `limit`. */
function conflictsOn(owns: readonly string[], resolutions: MemoryHit[], limit: number): RecalledConflict[] {
  if (!owns.length) return [];
  const owned = globMatcher(owns);
  const out: RecalledConflict[] = [];
  const seen = new Set<string>();
  for (const h of resolutions) {
    for (const r of h.resolutions) {
      if (seen.has(r.file) || !owned(r.file)) continue;
      seen.add(r.file);
      out.push({ file: r.file, ticket_id: h.ticket_id, join_id: h.join_id, source: r.source, resolved_by: r.by, commit: h.commit, at: h.created_at });
      if (out.length >= limit) return out;
    }
  }
  return out;
}
