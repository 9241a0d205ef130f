import { createHash } from 'node:crypto';
import { TerminalError } from '../../errors.ts';
import { DEFAULT_COMMENT_ASSOCIATIONS, type GithubHookConfig, type GithubRule } from './github-config.ts';

/** What a GitHub delivery turns into: a command to submit, or nothing (with why). */
export type GithubPlan =
  | { kind: 'create'; payload: Record<string, unknown>; ticketId: string; repository: string; issue: number }
  | { kind: 'cancel'; repository: string; issue: number; payload: (ticketId: string) => Record<string, unknown> }
  | { kind: 'ignored'; reason: string };

/** The parts of a GitHub `issues` / `issue_comment` payload the rules read. */
interface IssuePayload {
  action?: unknown;
  label?: { name?: unknown };
  issue?: { number?: unknown; title?: unknown; body?: unknown; html_url?: unknown };
  comment?: { body?: unknown; author_association?: unknown };
  repository?: { full_name?: unknown; clone_url?: unknown; default_branch?: unknown };
}

const TITLE_MAX = 500;
/** `omoi_github_issue_ticket.repository` is varchar(255); GitHub's `owner/name` is far shorter. */
const FULL_NAME_MAX = 255;

/**
 * The first rule matching the delivery decides what it becomes:
 * - `issues` (its `action`, default `labeled`; its `label` if set) → `ticket.create` of one
 *   task from the rule's template; the ticket id is derived from the issue number and the
 *   delivery id, so submitting it again (GitHub redelivering after a failure) is the same command.
 * - `issue_comment` `created` whose body starts with the rule's `command`, by an allowed
 *   `author_association` → `ticket.cancel` of the ticket the issue became (the caller looks it up).
 * Throws a 400 `invalid_payload` TerminalError naming the field when a matched payload lacks what the rule needs.
 */
export function planDelivery(cfg: GithubHookConfig, event: string, deliveryId: string, body: Record<string, unknown>): GithubPlan {
  const p = body as IssuePayload;
  const rules = cfg.rules.filter((r) => r.event === event);
  if (rules.length === 0) return { kind: 'ignored', reason: `no rule for ${event} events` };
  for (const rule of rules) {
    if (rule.event === 'issues' && matchesIssueRule(rule, p)) return createPlan(cfg, rule, deliveryId, p);
    if (rule.event === 'issue_comment' && p.action === 'created' && typeof p.comment?.body === 'string' && startsWithCommand(p.comment.body, rule.command)) {
      const allowed = rule.allow ?? DEFAULT_COMMENT_ASSOCIATIONS;
      if (!allowed.includes(String(p.comment.author_association))) return { kind: 'ignored', reason: `${rule.command} from a commenter whose association is ${String(p.comment.author_association)}` };
      const repository = text(p.repository?.full_name, 'repository.full_name', FULL_NAME_MAX);
      const issue = issueNumber(p);
      return { kind: 'cancel', repository, issue, payload: (ticketId) => ({ ticket_id: ticketId, reason: `${rule.command} on GitHub issue ${repository}#${issue}` }) };
    }
  }
  return { kind: 'ignored', reason: `no ${event} rule matches` };
}

function matchesIssueRule(rule: Extract<GithubRule, { event: 'issues' }>, p: IssuePayload): boolean {
  if (p.action !== (rule.action ?? 'labeled')) return false;
  return rule.label === undefined || p.label?.name === rule.label;
}

/** The command word must end there: `/omoi cancel` matches `/omoi cancel now`, not `/omoi cancelled`. */
function startsWithCommand(body: string, command: string): boolean {
  const trimmed = body.trimStart();
  return trimmed.startsWith(command) && (trimmed.length === command.length || /\s/.test(trimmed[command.length]!));
}

function createPlan(cfg: GithubHookConfig, rule: Extract<GithubRule, { event: 'issues' }>, deliveryId: string, p: IssuePayload): GithubPlan {
  const full = text(p.repository?.full_name, 'repository.full_name', FULL_NAME_MAX);
  const issue = issueNumber(p);
  const title = text(p.issue?.title, 'issue.title');
  const issueBody = typeof p.issue?.body === 'string' ? p.issue.body : '';
  const url = typeof p.issue?.html_url === 'string' ? p.issue.html_url : '';
  const repository = rule.create_ticket.repository ?? cfg.repository ?? text(p.repository?.clone_url, 'repository.clone_url');
  const baseBranch = rule.create_ticket.base_branch ?? cfg.base_branch ?? (typeof p.repository?.default_branch === 'string' ? p.repository.default_branch : 'main');
  const t = rule.create_ticket.task;
  const kind = t.kind ?? 'agent';
  // Issue text reaches an agent's prompt only: a command task runs exactly as configured (never issue text in a shell).
  const run = kind === 'agent'
    ? fill(t.run, { issue_title: title, issue_body: issueBody, issue_number: String(issue), issue_url: url, repository: full })
    : t.run;
  const ticketId = `gh-${issue}-${createHash('sha256').update(deliveryId).digest('hex').slice(0, 12)}`;
  const fullTitle = `${full}#${issue}: ${title}`;
  return {
    kind: 'create', ticketId, repository: full, issue,
    payload: {
      ticket_id: ticketId,
      title: fullTitle.length > TITLE_MAX ? `${fullTitle.slice(0, TITLE_MAX - 1)}…` : fullTitle,
      repository, base_branch: baseBranch,
      tasks: [{
        id: t.id ?? 'issue', kind, run,
        ...(t.capabilities ? { capabilities: t.capabilities } : {}),
        ...(t.owns ? { owns: t.owns } : {}),
        ...(t.timeout_ms ? { timeout_ms: t.timeout_ms } : {}),
        ...(t.max_retries !== undefined ? { max_retries: t.max_retries } : {}),
      }],
    },
  };
}

/** `{name}` placeholders filled in one pass (a value containing `{issue_body}` is not expanded again). */
function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(issue_title|issue_body|issue_number|issue_url|repository)\}/g, (_m, name: string) => values[name]!);
}

function issueNumber(p: IssuePayload): number {
  const n = p.issue?.number;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1) throw invalid('issue.number', 'must be a positive integer');
  return n;
}

function text(value: unknown, field: string, max = 2000): string {
  if (typeof value !== 'string' || value === '' || value.length > max) throw invalid(field, `must be a non-empty string of at most ${max} characters`);
  return value;
}

function invalid(field: string, message: string): TerminalError {
  return new TerminalError('invalid_payload', `${field} ${message}`, { field: `/${field.replaceAll('.', '/')}` }, 400);
}
