/** What ready ordering needs to know about a task. */
export interface ReadyCandidate {
  priority: number;
  /** Epoch milliseconds at which the task last became `ready`. */
  readySince: number;
  /** Attempts already made and failed. */
  retries: number;
}

/** Waiting this long adds one priority point: a low-priority task cannot starve. */
export const AGE_STEP_MS = 60_000;
/** Each earlier failed attempt removes this many priority points: a flaky task yields a little. */
export const RETRY_PENALTY = 0.25;

/**
 * The score of a ready task; higher runs first.
 *
 *     score = priority + max(0, now − readySince) / AGE_STEP_MS − RETRY_PENALTY × retries
 *
 * i.e. one priority point per minute waited, minus a quarter point per earlier failed
 * attempt. Priority dominates among tasks that became ready together; age lets any task
 * overtake higher priorities eventually, so nothing starves. A clock that went backwards
 * (readySince in the future) counts as age 0. Pure and deterministic.
 */
export function readyScore(task: ReadyCandidate, now: number): number {
  const age = Math.max(0, now - task.readySince);
  return task.priority + age / AGE_STEP_MS - RETRY_PENALTY * task.retries;
}

/**
 * Ready tasks in the order they should be offered: by `readyScore` (highest first); equal
 * scores by `readySince` (older first), then by `id` (code-unit order, not locale). Returns a
 * new array; the input is not modified. The same input and `now` always give the same order.
 */
export function orderReady<T extends ReadyCandidate & { id: string }>(tasks: readonly T[], now: number): T[] {
  return tasks
    .map((task) => ({ task, score: readyScore(task, now) }))
    .sort(
      (a, b) =>
        b.score - a.score ||
        a.task.readySince - b.task.readySince ||
        (a.task.id < b.task.id ? -1 : a.task.id > b.task.id ? 1 : 0),
    )
    .map((entry) => entry.task);
}

/**
 * The first `k` tasks of `orderReady(tasks, now)`, without sorting all of them when `k` is
 * small (a ticket with a thousand ready tasks and one free agent slot looks at each once).
 */
export function bestReady<T extends ReadyCandidate & { id: string }>(tasks: readonly T[], now: number, k: number): T[] {
  if (k <= 0) return [];
  if (k * 8 >= tasks.length) return orderReady(tasks, now).slice(0, k);
  const scored = tasks.map((task) => ({ task, score: readyScore(task, now) }));
  const before = (a: (typeof scored)[number], b: (typeof scored)[number]) =>
    b.score - a.score || a.task.readySince - b.task.readySince || (a.task.id < b.task.id ? -1 : a.task.id > b.task.id ? 1 : 0);
  const best: Array<(typeof scored)[number]> = [];
  const taken = new Set<number>();
  for (let n = 0; n < k; n++) {
    let pick = -1;
    for (let i = 0; i < scored.length; i++) if (!taken.has(i) && (pick < 0 || before(scored[i]!, scored[pick]!) < 0)) pick = i;
    taken.add(pick);
    best.push(scored[pick]!);
  }
  return best.map((entry) => entry.task);
}
