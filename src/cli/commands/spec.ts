import { CliError } from '../cli-error.ts';
import { demoPlannerCommand } from '../../demo/spec-planner.ts';
import { nodeApi } from '../node-api.ts';
import { textTable } from '../text-table.ts';

interface SpecLine {
  id: string; title: string | null; repository: string; base_branch: string; goal: string; status: string; phase: string;
  attempt: number; max_phase_attempts: number; planner: string; ticket_id: string | null; current_ticket_id: string | null;
  head: string | null; reason: string | null; created_at: string; updated_at: string;
  delivery?: { remote?: string; branch?: string; pull_request_command?: string } | null;
}
interface ArtifactLine { phase: string; version: number; ticket_id: string; body: unknown; gate: { passed: boolean; findings: Array<{ code: string; message: string }> }; created_at: string }
interface TicketLine { id: string; status: string; spec_phase: string | null; reason: string | null; head: string | null }
interface DecisionLine { gate: string; decision: string; comment: string | null; principal: string; at: string }

export interface SpecCreateOptions {
  url?: string; id?: string; repo: string; goal: string; base?: string; title?: string;
  /** A planning command; `--demo-planner` uses the deterministic one shipped with Omoi. */
  plannerCommand?: string; demoPlanner?: boolean; maxPhaseAttempts?: number; json?: boolean;
  /** A gate of the person's own, run on each planning artifact (`validator_command`). */
  validator?: string;
  /** Gates (`approvals`): planning phases that wait for `omoi spec approve|reject`. */
  approve?: string[];
  /** The work ticket's delivery: push its branch to this remote (`--push-to`), as `branch`, then run `prCommand`. */
  pushTo?: string; branch?: string; prCommand?: string;
}

/** `omoi spec create`: sends `spec.create` (operator token); answers the spec id the node accepted. */
export async function specCreate(opts: SpecCreateOptions): Promise<string> {
  const plannerCommand = opts.demoPlanner ? demoPlannerCommand() : opts.plannerCommand;
  if ((opts.branch || opts.prCommand) && !opts.pushTo) throw new CliError('--branch and --pr-command need --push-to <remote>');
  const delivery = opts.pushTo ? {
    remote: opts.pushTo, ...(opts.branch ? { branch: opts.branch } : {}), ...(opts.prCommand ? { pull_request_command: opts.prCommand } : {}),
  } : undefined;
  const body = {
    ...(opts.id ? { spec_id: opts.id } : {}), repository: opts.repo, goal: opts.goal, base_branch: opts.base ?? 'main',
    ...(opts.title ? { title: opts.title } : {}),
    ...(plannerCommand ? { planner: 'command', planner_command: plannerCommand } : { planner: 'agent' }),
    ...(opts.validator ? { validator_command: opts.validator } : {}),
    ...(opts.maxPhaseAttempts ? { max_phase_attempts: opts.maxPhaseAttempts } : {}),
    ...(opts.approve?.length ? { approvals: opts.approve } : {}),
    ...(delivery ? { delivery } : {}),
  };
  const answer = await nodeApi(opts.url).call<{ spec_id: string; message_id: string }>('POST', '/api/specs', body);
  if (opts.json) return JSON.stringify(answer, null, 2);
  return `spec ${answer.spec_id} accepted (message ${answer.message_id}); follow it with: omoi spec show ${answer.spec_id}`;
}

/** `omoi spec show ID`: the spec, each phase run's artifact with its gate's findings, and its tickets. */
export async function specShow(id: string, opts: { url?: string; json?: boolean }): Promise<string> {
  const { spec, artifacts, tickets, decisions } = await nodeApi(opts.url).call<{ spec: SpecLine; artifacts: ArtifactLine[]; tickets: TicketLine[]; decisions: DecisionLine[] }>('GET', `/api/specs/${encodeURIComponent(id)}`);
  if (opts.json) return JSON.stringify({ spec, artifacts, tickets, decisions }, null, 2);
  const head: Array<[string, string | null]> = [
    ['id', spec.id], ['title', spec.title], ['goal', spec.goal], ['repository', `${spec.repository} (${spec.base_branch})`],
    ['status', spec.status], ['phase', `${spec.phase} (run ${spec.attempt} of at most ${spec.max_phase_attempts})`],
    ['waiting for', spec.current_ticket_id], ['work ticket', spec.ticket_id], ['head', spec.head], ['reason', spec.reason],
    ['delivery', spec.delivery ? describeDelivery(spec.delivery) : null],
  ];
  const lines = head.filter(([, v]) => v).map(([k, v]) => `${k.padEnd(12)}${v}`);
  lines.push('', 'Artifacts:');
  lines.push(artifacts.length === 0 ? '  (none yet)' : textTable(['PHASE', 'VERSION', 'GATE', 'TICKET', 'FINDINGS'], artifacts.map((a) => [
    a.phase, String(a.version), a.gate.passed ? 'passed' : 'not met', a.ticket_id,
    a.gate.findings.map((f) => `${f.code}: ${f.message}`).join('; ').slice(0, 200),
  ])));
  lines.push('', 'Tickets:');
  lines.push(tickets.length === 0 ? '  (none yet)' : textTable(['TICKET', 'PHASE', 'STATUS', 'REASON'], tickets.map((x) => [x.id, x.spec_phase ?? '', x.status, x.reason ?? ''])));
  if (decisions.length) {
    lines.push('', 'Decisions:');
    lines.push(textTable(['PHASE', 'DECISION', 'BY', 'AT', 'COMMENT'], decisions.map((d) => [d.gate, d.decision, d.principal, d.at, (d.comment ?? '').slice(0, 200)])));
  }
  return lines.join('\n');
}

/** `push to <remote> as <branch>, then <pr command>`; its status is the work ticket's `delivery_status`. */
function describeDelivery(d: NonNullable<SpecLine['delivery']>): string {
  return `push to ${d.remote ?? 'the repository'} as ${d.branch ?? 'omoi/<work ticket>'}${d.pull_request_command ? `, then ${d.pull_request_command}` : ''} (its status: the work ticket's delivery_status)`;
}

/** `omoi spec replan ID --from PHASE`: plans the spec again from that phase. */
export async function specReplan(id: string, opts: { url?: string; from: string; reason?: string; json?: boolean }): Promise<string> {
  const answer = await nodeApi(opts.url).call<{ spec_id: string; message_id: string }>('POST', `/api/specs/${encodeURIComponent(id)}/replan`, {
    from_phase: opts.from, ...(opts.reason ? { reason: opts.reason } : {}),
  });
  if (opts.json) return JSON.stringify(answer, null, 2);
  return `spec ${answer.spec_id}: replan from ${opts.from} accepted (message ${answer.message_id})`;
}

/**
 * `omoi spec approve|reject ID [--phase P] [--comment C]`: the decision at the phase the spec waits
 * at (operator token). The node answers 202; the SpecActor decides or refuses (`gate_not_awaiting`).
 */
export async function specDecide(action: 'approve' | 'reject', id: string, opts: { url?: string; phase?: string; comment?: string; json?: boolean }): Promise<string> {
  const body = { ...(opts.phase ? { phase: opts.phase } : {}), ...(opts.comment !== undefined ? { comment: opts.comment } : {}) };
  const answer = await nodeApi(opts.url).call<{ spec_id: string; message_id: string }>('POST', `/api/specs/${encodeURIComponent(id)}/${action}`, body);
  if (opts.json) return JSON.stringify(answer, null, 2);
  return `${action === 'approve' ? 'approval' : 'rejection'} of spec ${answer.spec_id} at ${opts.phase ?? 'the phase it waits at'} accepted (message ${answer.message_id}); follow it with: omoi spec show ${answer.spec_id}`;
}
