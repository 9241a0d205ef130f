import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../../errors.ts';

/** A secret written in the file, or the name of the environment variable that holds it (as alert routes'). */
const Secret = Type.Union([Type.String({ minLength: 1 }), Type.Object({ env: Type.String({ minLength: 1 }) }, { additionalProperties: false })]);

/** GitHub's `author_association` values a comment command may come from. */
export const DEFAULT_COMMENT_ASSOCIATIONS = ['OWNER', 'MEMBER', 'COLLABORATOR'];

/** The task of a ticket made from an issue. With `kind: agent`, `run` (the prompt) may name `{issue_title}`, `{issue_body}`, `{issue_number}`, `{issue_url}`, `{repository}`. */
export const IssueTask = Type.Object({
  id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' })),
  kind: Type.Optional(Type.Union([Type.Literal('agent'), Type.Literal('command')])),
  run: Type.String({ minLength: 1, maxLength: 100_000 }),
  capabilities: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50 })),
  owns: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 500 }), { maxItems: 200 })),
  timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 86_400_000 })),
  max_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
}, { additionalProperties: false });

/** `issues` with `action` (default `labeled`), and with `label`, only that label → `ticket.create`. */
export const IssueRule = Type.Object({
  event: Type.Literal('issues'),
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  label: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  create_ticket: Type.Object({
    /** Default: `webhooks.github.repository`, else the payload's `repository.clone_url`. */
    repository: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    base_branch: Type.Optional(Type.String({ minLength: 1, maxLength: 250 })),
    task: IssueTask,
  }, { additionalProperties: false }),
}, { additionalProperties: false });

/** `issue_comment` (created) whose body starts with `command` → `ticket.cancel` of the issue's ticket. */
export const CommentRule = Type.Object({
  event: Type.Literal('issue_comment'),
  command: Type.String({ minLength: 1, maxLength: 100 }),
  cancel_ticket: Type.Literal(true),
  /** `author_association`s allowed to use the command (default OWNER, MEMBER, COLLABORATOR). */
  allow: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { minItems: 1 })),
}, { additionalProperties: false });

export const GithubRule = Type.Union([IssueRule, CommentRule]);
export type GithubRule = Static<typeof GithubRule>;

export const GithubHookConfig = Type.Object({
  /** The webhook's secret, as set on GitHub: `X-Hub-Signature-256` is checked with it. */
  secret: Secret,
  repository: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  base_branch: Type.Optional(Type.String({ minLength: 1, maxLength: 250 })),
  rules: Type.Array(GithubRule, { minItems: 1 }),
}, { additionalProperties: false });
export type GithubHookConfig = Static<typeof GithubHookConfig>;

export const WebhooksConfig = Type.Object({
  /** The incoming GitHub-compatible endpoint `POST /api/hooks/github`; absent → it answers 404 `github_hooks_off`. */
  github: Type.Optional(GithubHookConfig),
}, { additionalProperties: false });
export type WebhooksConfig = Static<typeof WebhooksConfig>;

/** The `webhooks:` section of the config file, checked whole. Throws `ConfigError` with the path of the first problem. */
export function parseWebhooksConfig(raw: unknown): WebhooksConfig {
  if (raw === undefined || raw === null) return {};
  if (!Value.Check(WebhooksConfig, raw)) {
    const first = [...Value.Errors(WebhooksConfig, raw)][0]!;
    const where = `webhooks${first.path.replaceAll('/', '.')}`;
    if (/^\/github\/rules\/\d+$/.test(first.path)) {
      throw new ConfigError('OMOI_CONFIG', `${where}: must be {event: issues, action?, label?, create_ticket: {repository?, base_branch?, task}} or {event: issue_comment, command, cancel_ticket: true, allow?}`);
    }
    throw new ConfigError('OMOI_CONFIG', `${where}: ${first.message}`);
  }
  return raw;
}
