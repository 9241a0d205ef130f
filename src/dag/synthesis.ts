import { TerminalError } from '../errors.ts';
import { canonicalJson } from './canonical-json.ts';

/** How a join's source results become the continuation's context. */
export type SynthesisStrategy = 'combine' | 'union' | 'intersection';
export const SYNTHESIS_STRATEGIES: readonly SynthesisStrategy[] = ['combine', 'union', 'intersection'];

/** A completed source of a join: its task, the head commit of its branch, its JSON result. */
export interface SourceResult {
  taskId: string;
  commit: string;
  result: unknown;
}

/** The continuation's context, as stored with the join and handed to the continuation. */
export interface Synthesis {
  strategy: SynthesisStrategy;
  /** Every source, sorted by task id. */
  sources: Array<{ task_id: string; commit: string; result: unknown }>;
  merged: Record<string, unknown>;
  /** Keys on which sources disagree, in key order; `tasks` are the sources having the key, sorted. */
  collisions: Array<{ key: string; tasks: string[] }>;
}

/**
 * Synthesizes a join's source results. Pure and deterministic: sources are sorted by task id
 * (code-unit order) first, so the input order never matters; values are compared by
 * canonical JSON (key order ignored); `merged` keys and `collisions` are in key order.
 *
 * Each source's result is seen as an object: a plain object as itself, anything else
 * (string, number, boolean, null, array) as `{ value: result }`, and a missing result
 * (`undefined`) as `{}` (it contributes no keys).
 *
 * - `combine`: `merged[taskId] = result` for every source (a missing result becomes `null`).
 *   Never collides.
 * - `union`: every top-level key of every source. A key held by one source, or by several
 *   with equal values, keeps that value. If every value of a key is an array, the arrays
 *   are concatenated in task-id order and de-duplicated (first occurrence kept, equality by
 *   canonical JSON); this is not a collision. Otherwise, differing values are a collision:
 *   recorded with the ids of the sources having the key, and the merged value becomes the
 *   list of the distinct values in task-id order.
 * - `intersection`: only keys present in every source. A key whose values are all equal
 *   keeps that value; a key present everywhere with different values is a collision (all
 *   source ids) and is left out of `merged`. With no sources, `merged` is empty.
 *
 * `sources` always lists every source with its task id, commit and result (`null` if
 * missing). The returned values are copies: mutating them never touches the input.
 *
 * @throws TerminalError `unknown_strategy` for another strategy, `duplicate_source` if two
 * results have the same task id (a join records each source once).
 */
export function synthesize(strategy: SynthesisStrategy, results: readonly SourceResult[]): Synthesis {
  if (!SYNTHESIS_STRATEGIES.includes(strategy)) {
    throw new TerminalError(
      'unknown_strategy',
      `unknown synthesis strategy ${JSON.stringify(strategy)}; expected one of ${SYNTHESIS_STRATEGIES.join(', ')}`,
      { strategy },
    );
  }
  const sorted = [...results].sort((a, b) => compareIds(a.taskId, b.taskId));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.taskId === sorted[i - 1]!.taskId) {
      throw new TerminalError('duplicate_source', `source ${JSON.stringify(sorted[i]!.taskId)} is given twice`, {
        task: sorted[i]!.taskId,
      });
    }
  }
  const sources = sorted.map((s) => ({ task_id: s.taskId, commit: s.commit, result: copy(s.result ?? null) }));

  if (strategy === 'combine') {
    const merged: Record<string, unknown> = {};
    for (const s of sources) merged[s.task_id] = s.result;
    return { strategy, sources, merged: copy(merged), collisions: [] };
  }

  // key → the sources having it, in task-id order.
  const byKey = new Map<string, Array<{ task: string; value: unknown }>>();
  for (const s of sorted) {
    const obj = asObject(s.result);
    for (const key of Object.keys(obj)) {
      if (obj[key] === undefined) continue; // JSON has no undefined: the key is absent
      let holders = byKey.get(key);
      if (!holders) byKey.set(key, (holders = []));
      holders.push({ task: s.taskId, value: obj[key] });
    }
  }

  const merged: Record<string, unknown> = {};
  const collisions: Synthesis['collisions'] = [];
  for (const key of [...byKey.keys()].sort(compareIds)) {
    const holders = byKey.get(key)!;
    const values = holders.map((h) => h.value);
    const distinct = distinctValues(values);
    if (strategy === 'intersection') {
      if (holders.length < sorted.length) continue;
      if (distinct.length === 1) merged[key] = distinct[0];
      else collisions.push({ key, tasks: holders.map((h) => h.task) });
    } else if (distinct.length === 1) {
      merged[key] = distinct[0];
    } else if (values.every(Array.isArray)) {
      merged[key] = distinctValues(values.flat());
    } else {
      merged[key] = distinct;
      collisions.push({ key, tasks: holders.map((h) => h.task) });
    }
  }
  return { strategy, sources, merged: copy(merged), collisions };
}

function asObject(result: unknown): Record<string, unknown> {
  if (result === undefined) return {};
  if (result !== null && typeof result === 'object' && !Array.isArray(result)) return result as Record<string, unknown>;
  return { value: result };
}

/** The values with repeats (by canonical JSON) removed, first occurrence kept. */
function distinctValues(values: readonly unknown[]): unknown[] {
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const v of values) {
    const text = canonicalJson(v);
    if (!seen.has(text)) {
      seen.add(text);
      out.push(v);
    }
  }
  return out;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function copy<T>(value: T): T {
  return structuredClone(value);
}
