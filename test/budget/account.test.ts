import t from 'tap';
import { addCharge, budgetFrom, changeBudget, chargeOf, crossings, isOverBudget, NO_SPEND, onExceededOf, type Budget } from '../../src/budget/index.ts';

const defaults = { warnShare: 0.8, onExceeded: 'finish' as const };
const budget = (b: Partial<Budget>): Budget => ({ cost_usd: null, wall_ms: null, warn_share: null, on_exceeded: null, ...b });

t.test('a budget from what a creator gave: absent fields are no limit and the defaults', async (t) => {
  t.equal(budgetFrom(undefined), null);
  t.equal(budgetFrom({}), null, 'an empty budget is none');
  t.same(budgetFrom({ cost_usd: 5 }), budget({ cost_usd: 5 }));
  t.equal(onExceededOf(budget({ cost_usd: 5 }), defaults), 'finish', 'the default policy');
  t.equal(onExceededOf(budget({ on_exceeded: 'stop' }), defaults), 'stop');
});

t.test('spend adds each attempt once; over budget when a limit is reached', async (t) => {
  const b = budget({ cost_usd: 1, wall_ms: 1000 });
  let spend = addCharge(NO_SPEND, chargeOf({ cost_usd: 0.4, input_tokens: 10 }));
  t.same(spend, { cost_usd: 0.4, wall_ms: 0, input_tokens: 10, output_tokens: 0, attempts: 1 });
  t.notOk(isOverBudget(b, spend));
  spend = addCharge(spend, chargeOf({ wall_ms: 1000 }));
  t.ok(isOverBudget(b, spend), 'exactly at the wall limit is over');
  t.notOk(isOverBudget(null, spend), 'no budget, never over');
});

t.test('each line is announced once per limit value; a jump past both announces only exceeded', async (t) => {
  const b = budget({ cost_usd: 1 });
  const at = (cost_usd: number) => ({ ...NO_SPEND, cost_usd });
  let r = crossings(b, at(0.5), {}, defaults);
  t.same(r.crossed, [], 'below the warn share');
  r = crossings(b, at(0.8), r.marks, defaults);
  t.same(r.crossed, [{ kind: 'warning', measure: 'cost_usd', spent: 0.8, limit: 1, share: 0.8 }], 'at the warn share');
  t.same(crossings(b, at(0.9), r.marks, defaults).crossed, [], 'no second warning');
  r = crossings(b, at(1.1), r.marks, defaults);
  t.match(r.crossed, [{ kind: 'exceeded', measure: 'cost_usd', spent: 1.1 }]);
  t.same(crossings(b, at(2), r.marks, defaults).crossed, [], 'no second exceeded');
  t.same(crossings(b, at(3), {}, defaults).crossed.map((c) => c.kind), ['exceeded'], 'a jump past both: only exceeded');
  t.same(crossings(budget({ cost_usd: 1, warn_share: 0.5 }), at(0.5), {}, defaults).crossed.map((c) => c.kind), ['warning'], 'the budget\'s own warn share');
});

t.test('a change keeps absent fields, clears null ones, and forgets the marks of the limits it changed', async (t) => {
  const b = budget({ cost_usd: 1, wall_ms: 1000 });
  const marks = { cost_usd: 'exceeded' as const, wall_ms: 'warning' as const };
  const raised = changeBudget(b, { cost_usd: 5 }, marks);
  t.same(raised.budget, budget({ cost_usd: 5, wall_ms: 1000 }));
  t.same(raised.marks, { wall_ms: 'warning' }, 'the raised limit can warn again; the other keeps its mark');
  t.same(changeBudget(b, { warn_share: 0.5 }, marks).marks, {}, 'a new warn share forgets every mark');
  t.same(changeBudget(b, { cost_usd: null, wall_ms: null }, marks), { budget: null, marks: {} }, 'cleared: no budget');
  const spend = { ...NO_SPEND, cost_usd: 3 };
  const lowered = changeBudget(raised.budget, { cost_usd: 2 }, raised.marks);
  t.same(crossings(lowered.budget, spend, lowered.marks, defaults).crossed.map((c) => c.kind), ['exceeded'], 'a limit lowered below the spend is exceeded again');
});
