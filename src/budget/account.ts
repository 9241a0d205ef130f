/**
 * Budget accounting of one ticket or agent: pure functions, no I/O (its actor stores the result).
 *
 * Invariants (test/budget/account.test.ts):
 * 1. Spend only grows, by what one attempt's usage says (`charge`); an attempt is charged once
 *    (its actor charges only the live attempt's report).
 * 2. A limit's line is announced once per limit value: `warning` when the spend crosses the warn
 *    share, `exceeded` at 100 % (a jump past both announces only `exceeded`). `marks` remembers
 *    what was announced; changing a limit (or the warn share) forgets its marks, so a raised
 *    budget can warn again.
 * 3. Over budget ⇔ some limit is reached (spent ≥ limit); nothing else decides it.
 */

export const Measure = { cost_usd: 'cost_usd', wall_ms: 'wall_ms' } as const;
export type Measure = (typeof Measure)[keyof typeof Measure];
const MEASURES: readonly Measure[] = [Measure.cost_usd, Measure.wall_ms];

export type OnExceeded = 'finish' | 'stop';

/** A stored budget: `null` fields are no limit (`cost_usd`, `wall_ms`) or the default (the others). */
export interface Budget {
  cost_usd: number | null;
  wall_ms: number | null;
  warn_share: number | null;
  on_exceeded: OnExceeded | null;
}

/** What a ticket's or agent's attempts used, summed. */
export interface Spend {
  cost_usd: number;
  wall_ms: number;
  input_tokens: number;
  output_tokens: number;
  /** Attempts whose usage was recorded. */
  attempts: number;
}

/** Which line of each limit was already announced for its current value. */
export type BudgetMarks = Partial<Record<Measure, 'warning' | 'exceeded'>>;

/** The defaults of the node's settings (OMOI_BUDGET_WARN_SHARE, OMOI_BUDGET_ON_EXCEEDED). */
export interface BudgetDefaults {
  warnShare: number;
  onExceeded: OnExceeded;
}

/** One attempt's usage, each field defaulted to 0. */
export interface Charge {
  cost_usd: number;
  wall_ms: number;
  input_tokens: number;
  output_tokens: number;
}

/** A line crossed: what becomes `budget.warning` or `budget.exceeded`. */
export interface Crossing {
  kind: 'warning' | 'exceeded';
  measure: Measure;
  spent: number;
  limit: number;
  share: number;
}

export const NO_SPEND: Spend = { cost_usd: 0, wall_ms: 0, input_tokens: 0, output_tokens: 0, attempts: 0 };

/** A budget from what a creator gave (absent fields: no limit / default); `null` when it limits nothing and says nothing. */
export function budgetFrom(given: Partial<Budget> | undefined): Budget | null {
  if (!given) return null;
  const b: Budget = { cost_usd: given.cost_usd ?? null, wall_ms: given.wall_ms ?? null, warn_share: given.warn_share ?? null, on_exceeded: given.on_exceeded ?? null };
  return Object.values(b).every((v) => v === null) ? null : b;
}

/** The policy at 100 %: the budget's own, else the default. */
export function onExceededOf(budget: Budget | null, defaults: BudgetDefaults): OnExceeded {
  return budget?.on_exceeded ?? defaults.onExceeded;
}

/** True when some limit is reached (invariant 3). */
export function isOverBudget(budget: Budget | null, spend: Spend): boolean {
  return MEASURES.some((m) => budget?.[m] != null && spend[m] >= budget[m]!);
}

/** The lines newly crossed at `spend`, and the marks after announcing them (invariant 2). */
export function crossings(budget: Budget | null, spend: Spend, marks: BudgetMarks, defaults: BudgetDefaults): { crossed: Crossing[]; marks: BudgetMarks } {
  const crossed: Crossing[] = [];
  const next: BudgetMarks = { ...marks };
  const warnShare = budget?.warn_share ?? defaults.warnShare;
  for (const measure of MEASURES) {
    const limit = budget?.[measure];
    if (limit == null) continue;
    const spent = spend[measure];
    const share = spent / limit;
    if (share >= 1 && marks[measure] !== 'exceeded') {
      crossed.push({ kind: 'exceeded', measure, spent, limit, share });
      next[measure] = 'exceeded';
    } else if (share >= warnShare && share < 1 && marks[measure] === undefined) {
      crossed.push({ kind: 'warning', measure, spent, limit, share });
      next[measure] = 'warning';
    }
  }
  return { crossed, marks: next };
}

/** Spend after one attempt's usage (invariant 1). */
export function addCharge(spend: Spend, c: Charge): Spend {
  return {
    cost_usd: spend.cost_usd + c.cost_usd, wall_ms: spend.wall_ms + c.wall_ms,
    input_tokens: spend.input_tokens + c.input_tokens, output_tokens: spend.output_tokens + c.output_tokens, attempts: spend.attempts + 1,
  };
}

/**
 * A budget after a change (absent fields kept, `null` cleared) and the marks it keeps: a limit
 * whose value changed forgets its marks; a changed warn share forgets all of them.
 */
export function changeBudget(budget: Budget | null, change: Partial<Budget>, marks: BudgetMarks): { budget: Budget | null; marks: BudgetMarks } {
  const prev: Budget = budget ?? { cost_usd: null, wall_ms: null, warn_share: null, on_exceeded: null };
  const next: Budget = { ...prev };
  for (const key of ['cost_usd', 'wall_ms', 'warn_share', 'on_exceeded'] as const) {
    if (change[key] !== undefined) (next as unknown as Record<string, unknown>)[key] = change[key];
  }
  const kept: BudgetMarks = next.warn_share === prev.warn_share ? { ...marks } : {};
  for (const m of MEASURES) if (next[m] !== prev[m]) delete kept[m];
  return { budget: Object.values(next).every((v) => v === null) ? null : next, marks: kept };
}

/** A reported usage as a charge (absent fields count 0). */
export function chargeOf(usage: { cost_usd?: number; wall_ms?: number; input_tokens?: number; output_tokens?: number }): Charge {
  return { cost_usd: usage.cost_usd ?? 0, wall_ms: usage.wall_ms ?? 0, input_tokens: usage.input_tokens ?? 0, output_tokens: usage.output_tokens ?? 0 };
}
