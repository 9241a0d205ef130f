/** `$1.20 / $5.00 · 95s / 600s`, and `over budget` while the ticket may start no attempt. */
export function spendText(t) {
  const spend = t.spend || { cost_usd: 0, wall_ms: 0 };
  const budget = t.budget || {};
  const cost = `$${spend.cost_usd.toFixed(2)}${budget.cost_usd != null ? ` / $${budget.cost_usd.toFixed(2)}` : ''}`;
  const wall = `${Math.round(spend.wall_ms / 1000)}s${budget.wall_ms != null ? ` / ${Math.round(budget.wall_ms / 1000)}s` : ''}`;
  return `${cost} · ${wall}${t.budget_exceeded ? ' · over budget' : ''}`;
}
