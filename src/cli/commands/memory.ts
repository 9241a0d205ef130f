import { nodeApi } from '../node-api.ts';
import { textTable } from '../text-table.ts';

interface MemoryLine {
  kind: string; repository: string; ticket_id: string; task_id: string | null; join_id: string | null;
  title: string; excerpt: string; files: string[]; created_at: string; rank: number;
}

export interface MemorySearchOptions { url?: string; repository?: string; limit?: number; json?: boolean }

/** One line of text, at most `max` characters (a table cell). */
function cell(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** `omoi memory search <query>`: the memory of past work matching the words (viewer token), as a table or JSON. */
export async function memorySearch(query: string, opts: MemorySearchOptions): Promise<string> {
  const params = new URLSearchParams({ q: query, limit: String(opts.limit ?? 10) });
  if (opts.repository) params.set('repository', opts.repository);
  const { results } = await nodeApi(opts.url).call<{ results: MemoryLine[] }>('GET', `/api/memory/search?${params}`);
  if (opts.json) return JSON.stringify(results, null, 2);
  if (results.length === 0) return 'nothing in memory matches';
  return textTable(
    ['AT', 'KIND', 'WHERE', 'TITLE', 'EXCERPT'],
    results.map((r) => [r.created_at, r.kind, r.task_id ? `${r.ticket_id}/${r.task_id}` : `${r.ticket_id}/${r.join_id ?? '-'}`, cell(r.title, 50), cell(r.excerpt, 70)]),
  );
}
