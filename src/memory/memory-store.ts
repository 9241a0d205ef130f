import { RetryableError, TerminalError } from '../errors.ts';
import type { Database } from '../persistence/index.ts';

/** What a memory row remembers. */
export const MemoryKind = {
  /** A task completed: its command/prompt and its JSON result. */
  task_result: 'task_result',
  /** A task failed for good: its command/prompt and the reason. */
  task_failure: 'task_failure',
  /** A merge had conflicts and they were resolved: which files, by what, the resolved commit. */
  merge_resolution: 'merge_resolution',
} as const;
export type MemoryKind = (typeof MemoryKind)[keyof typeof MemoryKind];

/** Longest `body` kept, characters: a result bigger than this is cut (search sees its start). */
export const MEMORY_BODY_MAX = 8_192;
/** Longest excerpt returned by a search or put in a task's context, characters. */
export const MEMORY_EXCERPT_MAX = 400;
/** Longest query text accepted (`GET /api/memory/search`), characters. */
export const MEMORY_QUERY_MAX = 500;
/** Most results one search returns. */
export const MEMORY_LIMIT_MAX = 50;

/** One resolved conflicted file: which source's merge conflicted, and who resolved it. */
export interface MemoryResolution { file: string; source: string; by: string }

/** A row to write; `event_id` makes writing it twice a no-op. */
export interface MemoryEntry {
  event_id: string; repository: string; kind: MemoryKind; ticket_id: string; task_id: string | null; join_id: string | null;
  title: string; body: string; files: string[]; commit: string | null; resolutions: MemoryResolution[]; created_at: Date;
}

/** A search hit, as the API, the CLI and a task's context show it. */
export interface MemoryHit {
  id: number; kind: MemoryKind; repository: string; ticket_id: string; task_id: string | null; join_id: string | null;
  title: string; excerpt: string; files: string[]; commit: string | null; resolutions: MemoryResolution[];
  created_at: string; rank: number;
}

export interface MemorySearch {
  /** Only this repository's memory (the URL as the ticket names it); all repositories when absent. */
  repository?: string;
  limit: number;
  /** Leave out this task's own rows (a task is not reminded of itself). */
  excludeTask?: { ticket_id: string; task_id: string };
  /** Statement timeout, ms: past it the statement is cancelled and `RetryableError('memory_timeout')` thrown. */
  timeoutMs?: number;
}

/** `src/config/parser.ts` → `src config parser ts`: a path's words, for the search text. */
export function pathWords(files: readonly string[]): string {
  return files.map((f) => f.split(/[^\p{L}\p{N}]+/u).filter(Boolean).join(' ')).join(' ');
}

/** Cuts text to `max` characters, marking the cut. */
export function bounded(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The significant words of a text for an OR query: letters and digits only (so they are safe
 * in `to_tsquery`), 3 to 40 characters, not all digits, each once, at most `max`.
 */
export function significantWords(text: string, max = 32): string[] {
  const seen = new Set<string>();
  for (const w of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (w.length < 3 || w.length > 40 || /^\p{N}+$/u.test(w)) continue;
    seen.add(w);
    if (seen.size >= max) break;
  }
  return [...seen];
}

/**
 * `omoi_memory` in SQL. Writes are idempotent by event id; searches rank with `ts_rank` over
 * the generated `search` column (GIN index) and return short excerpts only.
 */
export class MemoryStore {
  constructor(private readonly db: Database) {}

  /** Writes the row once; resolves false when a row for the event exists already (a redelivery). */
  async record(e: MemoryEntry): Promise<boolean> {
    const made = await this.sql<{ id: string }>(
      `insert into omoi_memory (event_id, repository, kind, ticket_id, task_id, join_id, title, body, files, terms, commit, resolutions, created_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?::jsonb, ?) on conflict (event_id) do nothing returning id`,
      [e.event_id, e.repository, e.kind, e.ticket_id, e.task_id, e.join_id, bounded(e.title, 2_000), bounded(e.body, MEMORY_BODY_MAX),
        JSON.stringify(e.files), bounded(pathWords(e.files), MEMORY_BODY_MAX), e.commit, JSON.stringify(e.resolutions), e.created_at]);
    return made.length > 0;
  }

  /**
   * A person's search (`websearch_to_tsquery`: quoted phrases, `or`, `-word`; never a syntax
   * error). Throws `TerminalError('empty_query')` (400) when the text has no searchable word
   * (only punctuation or stop words): answering "nothing found" would hide the mistake.
   */
  async search(q: string, o: MemorySearch): Promise<MemoryHit[]> {
    const [{ nodes }] = await this.sql<{ nodes: number }>(`select numnode(websearch_to_tsquery('english', ?)) as nodes`, [q]);
    if (Number(nodes) === 0) throw new TerminalError('empty_query', `the query ${JSON.stringify(bounded(q, 80))} has no searchable word (only punctuation or common words)`, { field: 'query.q' });
    return this.ranked(`websearch_to_tsquery('english', ?)`, q, o);
  }

  /** A task's recall: rows matching any of `words` (an OR), best first. No words, no rows. */
  async anyOf(words: readonly string[], o: MemorySearch): Promise<MemoryHit[]> {
    if (!words.length) return [];
    return this.ranked(`to_tsquery('english', ?)`, words.join(' | '), o);
  }

  /** The newest merge resolutions of a repository (for matching files against a task's claims). */
  async resolutions(repository: string, limit: number, timeoutMs?: number): Promise<MemoryHit[]> {
    const rows = await this.sql<Record<string, unknown>>(
      `select ${COLUMNS}, 0 as rank from omoi_memory where repository = ? and kind = 'merge_resolution' order by created_at desc, id desc limit ?`,
      [repository, limit], timeoutMs);
    return rows.map(toHit);
  }

  private async ranked(tsquery: string, text: string, o: MemorySearch): Promise<MemoryHit[]> {
    const where: string[] = ['search @@ q'];
    const params: unknown[] = [text];
    if (o.repository !== undefined) { where.push('repository = ?'); params.push(o.repository); }
    if (o.excludeTask) { where.push('not (ticket_id = ? and coalesce(task_id, \'\') = ?)'); params.push(o.excludeTask.ticket_id, o.excludeTask.task_id); }
    const rows = await this.sql<Record<string, unknown>>(
      `select ${COLUMNS}, ts_rank(search, q) as rank from omoi_memory, ${tsquery} q
       where ${where.join(' and ')} order by rank desc, created_at desc, id desc limit ?`, [...params, o.limit], o.timeoutMs);
    return rows.map(toHit);
  }

  /** Runs a statement; with `timeoutMs`, PostgreSQL cancels it past that time. */
  private async sql<T>(query: string, params: unknown[], timeoutMs?: number): Promise<T[]> {
    const em = this.db.em();
    if (timeoutMs === undefined) return (await em.getConnection().execute(query, params)) as T[];
    const knex = em.getConnection().getKnex();
    try {
      const result = await knex.raw(query, params as never[]).timeout(timeoutMs, { cancel: true });
      return result.rows as T[];
    } catch (err) {
      if ((err as Error)?.name === 'KnexTimeoutError') throw new RetryableError('memory_timeout', `the memory search took longer than ${timeoutMs} ms and was cancelled`, {}, { cause: err });
      throw err;
    }
  }
}

const COLUMNS = `id::int as id, kind, repository, ticket_id, task_id, join_id, title, left(body, ${MEMORY_EXCERPT_MAX}) as excerpt, length(body) as body_length,
  files, commit, resolutions, created_at`;

function toHit(r: Record<string, unknown>): MemoryHit {
  const excerpt = String(r.excerpt ?? '');
  return {
    id: Number(r.id), kind: r.kind as MemoryKind, repository: String(r.repository), ticket_id: String(r.ticket_id),
    task_id: (r.task_id as string | null) ?? null, join_id: (r.join_id as string | null) ?? null, title: String(r.title),
    excerpt: Number(r.body_length) > MEMORY_EXCERPT_MAX ? `${excerpt.slice(0, MEMORY_EXCERPT_MAX - 1)}…` : excerpt,
    files: (r.files as string[]) ?? [], commit: (r.commit as string | null) ?? null, resolutions: (r.resolutions as MemoryResolution[]) ?? [],
    created_at: new Date(r.created_at as string).toISOString(), rank: Number(r.rank),
  };
}
