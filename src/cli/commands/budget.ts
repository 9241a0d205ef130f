import type { Budget, Spend } from '../../budget/index.ts';
import { CliError } from '../cli-error.ts';
import { nodeApi } from '../node-api.ts';

/** Whose budget: exactly one of a ticket or an agent. */
export interface BudgetTarget { ticket?: string; agent?: string; url?: string }

export interface BudgetSetOptions extends BudgetTarget {
  costUsd?: number;
  wallMs?: number;
  warnShare?: number;
  onExceeded?: 'finish' | 'stop';
  /** Clears both limits (and the warn share and policy): no budget. */
  clear?: boolean;
}

interface WithBudget { id: string; budget: Budget | null; spend: Spend; budget_exceeded: boolean }

function target(opts: BudgetTarget): { scope: 'ticket' | 'agent'; id: string; path: string } {
  if (!!opts.ticket === !!opts.agent) throw new CliError('name exactly one of --ticket <id> or --agent <id>');
  return opts.ticket
    ? { scope: 'ticket', id: opts.ticket, path: `/api/tickets/${encodeURIComponent(opts.ticket)}` }
    : { scope: 'agent', id: opts.agent!, path: `/api/agents/${encodeURIComponent(opts.agent!)}` };
}

/**
 * `omoi budget set`: `PUT /api/{tickets,agents}/<id>/budget` with the fields given (the others
 * are kept; `--clear` clears them all). The node answers 202: the ticket's or agent's actor
 * applies it and publishes `budget.changed` (or refuses it with a `ticket.rejected` / error event).
 */
export async function budgetSet(opts: BudgetSetOptions): Promise<string> {
  const t = target(opts);
  const change: Record<string, unknown> = opts.clear
    ? { cost_usd: null, wall_ms: null, warn_share: null, on_exceeded: null }
    : {
      ...(opts.costUsd !== undefined ? { cost_usd: opts.costUsd } : {}), ...(opts.wallMs !== undefined ? { wall_ms: opts.wallMs } : {}),
      ...(opts.warnShare !== undefined ? { warn_share: opts.warnShare } : {}), ...(opts.onExceeded !== undefined ? { on_exceeded: opts.onExceeded } : {}),
    };
  if (Object.keys(change).length === 0) throw new CliError('nothing to change: give --cost-usd, --wall-ms, --warn-share, --on-exceeded or --clear');
  const answer = await nodeApi(opts.url).call<{ message_id: string }>('PUT', `${t.path}/budget`, change);
  return `budget change for ${t.scope} ${t.id} accepted (message ${answer.message_id}): ${JSON.stringify(change)}`;
}

/** `omoi budget show`: the ticket's or agent's limits, what it spent, and whether it is over. */
export async function budgetShow(opts: BudgetTarget & { json?: boolean }): Promise<string> {
  const t = target(opts);
  const api = nodeApi(opts.url);
  let row: WithBudget | undefined;
  if (t.scope === 'ticket') row = (await api.call<{ ticket: WithBudget }>('GET', t.path)).ticket;
  else row = (await api.call<{ agents: WithBudget[] }>('GET', '/api/agents')).agents.find((a) => a.id === t.id);
  if (!row) throw new CliError(`no agent ${JSON.stringify(t.id)} [not_found]`);
  if (opts.json) return JSON.stringify({ scope: t.scope, id: t.id, budget: row.budget, spend: row.spend, exceeded: row.budget_exceeded }, null, 2);
  return budgetLines(t.scope, t.id, row).join('\n');
}

/** `ticket T1: cost $1.20 of $5.00 (24 %) · wall 95.0s of 600.0s (16 %) · tokens 12000 in / 3400 out · 3 attempts`. */
export function budgetLines(scope: string, id: string, row: WithBudget): string[] {
  const b = row.budget;
  const of = (spent: number, limit: number | null | undefined, f: (n: number) => string) =>
    limit == null ? `${f(spent)} (no limit)` : `${f(spent)} of ${f(limit)} (${Math.round((spent / limit) * 100)} %)`;
  const s = row.spend;
  return [
    `${scope} ${id}: ${row.budget_exceeded ? 'OVER BUDGET: no new attempts until the budget is raised' : 'within budget'}`,
    `cost     ${of(s.cost_usd, b?.cost_usd, usd)}`,
    `wall     ${of(s.wall_ms, b?.wall_ms, seconds)}`,
    `tokens   ${s.input_tokens} in / ${s.output_tokens} out · ${s.attempts} attempts reported`,
    `policy   warn at ${b?.warn_share != null ? `${Math.round(b.warn_share * 100)} %` : 'the default share'} · at 100 % running attempts ${b?.on_exceeded ?? 'per the default (OMOI_BUDGET_ON_EXCEEDED)'}`,
  ];
}

export const usd = (n: number): string => `$${n.toFixed(2)}`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
