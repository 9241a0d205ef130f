import { resolveSecret } from '../../alerts/delivery/route-secret.ts';
import { AuditChannel, type AuditLog } from '../../audit/index.ts';
import { errorMessage, TerminalError } from '../../errors.ts';
import type { Logger } from '../../logging/logger.ts';
import { signatureMatches } from '../../delivery/signature.ts';
import { ProtocolError } from '../../protocol/index.ts';
import type { Database } from '../../persistence/index.ts';
import type { GithubHookConfig } from './github-config.ts';
import { planDelivery } from './github-rules.ts';
import { GithubStore } from './github-store.ts';

/** One request to `POST /api/hooks/github`, as received. */
export interface GithubRequest {
  event: unknown; deliveryId: unknown; signature: unknown; contentType: string | undefined;
  /** The exact bytes of the body: the signature is over them. */
  raw: Buffer;
}

/** The answer: HTTP status and JSON body. `outcome` is also the metric's label. */
export interface GithubAnswer {
  status: 200 | 202;
  outcome: 'applied' | 'duplicate' | 'ignored';
  body: { outcome: string; delivery: string; command?: string; ticket_id?: string; message_id?: string; reason?: string };
}

const DELIVERY_ID_MAX = 255;
const LOGIN_MAX = 100;

/**
 * The incoming GitHub-compatible webhook. Order of checks, each refusal a stable code:
 * 1. off (no `webhooks.github` configured) → 404 `github_hooks_off`; its secret's variable unset → 503 `secret_missing`;
 * 2. `X-Hub-Signature-256` is not `sha256=<HMAC of the raw body>` → 401 `bad_signature` (nothing read further);
 * 3. `X-GitHub-Event` / `X-GitHub-Delivery` missing → 400 `missing_header`; the body not a JSON object → 400 `malformed_json`;
 * 4. a delivery id seen before → 200 `duplicate`, nothing done; `ping` → 200;
 * 5. no rule matches → 202 `ignored` (recorded, so a redelivery is a duplicate);
 * 6. a matched rule's command is submitted as HTTP commands are (principal `github:<sender login>`,
 *    audited) with message id `github:<delivery id>`, then the delivery is recorded `applied`.
 *    If submitting fails (NATS down: 503), nothing is recorded: GitHub's redelivery tries
 *    again, and the same message id and ticket id make a second submit harmless.
 */
export class GithubHooks {
  private readonly store: GithubStore;

  constructor(private readonly deps: {
    db: Database; log: Logger; audit: AuditLog;
    config: () => GithubHookConfig | undefined;
    submit(type: string, payload: unknown, opts: { id: string; by: string }): Promise<{ id: string }>;
    env?: NodeJS.ProcessEnv;
  }) {
    this.store = new GithubStore(deps.db);
  }

  /** Throws `TerminalError`s (401 `bad_signature`, 400s, 404, 503) for refusals; resolves with the answer otherwise. */
  async receive(req: GithubRequest): Promise<GithubAnswer> {
    const cfg = this.deps.config();
    if (!cfg) throw new TerminalError('github_hooks_off', 'the GitHub webhook is not configured (webhooks.github in the config file)', { field: 'url' }, 404);
    let secret: string;
    try {
      secret = resolveSecret(cfg.secret, { route: 'webhooks.github', setting: 'secret' }, this.deps.env);
    } catch (err) {
      throw new TerminalError('secret_missing', errorMessage(err), { field: 'url' }, 503);
    }
    if (!signatureMatches(secret, req.raw, req.signature)) {
      throw new TerminalError('bad_signature', 'X-Hub-Signature-256 is missing or is not the HMAC-SHA256 of the body with the configured secret', { field: 'headers.x-hub-signature-256' }, 401);
    }
    const event = header(req.event, 'x-github-event', 100);
    const deliveryId = header(req.deliveryId, 'x-github-delivery', DELIVERY_ID_MAX);
    const body = parseBody(req.raw, req.contentType);
    if (await this.store.seen(deliveryId)) return { status: 200, outcome: 'duplicate', body: { outcome: 'duplicate', delivery: deliveryId } };
    if (event === 'ping') return { status: 200, outcome: 'ignored', body: { outcome: 'pong', delivery: deliveryId } };
    const action = typeof body.action === 'string' ? body.action.slice(0, 255) : null;
    const plan = planDelivery(cfg, event, deliveryId, body);
    const by = `github:${senderLogin(body)}`;
    const messageId = `github:${deliveryId}`;
    switch (plan.kind) {
      case 'ignored':
        await this.store.handled({ delivery_id: deliveryId, event, action, outcome: 'ignored', ticket_id: null });
        return { status: 202, outcome: 'ignored', body: { outcome: 'ignored', delivery: deliveryId, reason: plan.reason } };
      case 'create': {
        await this.submit('ticket.create', plan.payload, messageId, by, plan.ticketId);
        await this.store.linkIssue(plan.ticketId, plan.repository, plan.issue);
        await this.store.handled({ delivery_id: deliveryId, event, action, outcome: 'applied', ticket_id: plan.ticketId });
        return { status: 202, outcome: 'applied', body: { outcome: 'applied', delivery: deliveryId, command: 'ticket.create', ticket_id: plan.ticketId, message_id: messageId } };
      }
      case 'cancel': {
        const ticketId = await this.store.ticketOf(plan.repository, plan.issue);
        if (!ticketId) {
          await this.store.handled({ delivery_id: deliveryId, event, action, outcome: 'ignored', ticket_id: null });
          return { status: 202, outcome: 'ignored', body: { outcome: 'ignored', delivery: deliveryId, reason: `no ticket was made from ${plan.repository}#${plan.issue}` } };
        }
        await this.submit('ticket.cancel', plan.payload(ticketId), messageId, by, ticketId);
        await this.store.handled({ delivery_id: deliveryId, event, action, outcome: 'applied', ticket_id: ticketId });
        return { status: 202, outcome: 'applied', body: { outcome: 'applied', delivery: deliveryId, command: 'ticket.cancel', ticket_id: ticketId, message_id: messageId } };
      }
    }
  }

  /** Submits as HTTP commands are, and writes the audit row an HTTP command would. */
  private async submit(type: string, payload: Record<string, unknown>, id: string, by: string, target: string): Promise<void> {
    try {
      await this.deps.submit(type, payload, { id, by });
    } catch (err) {
      if (err instanceof ProtocolError) {
        await this.deps.audit.record({ principal: by, role: null, channel: AuditChannel.http, command: type, target, outcome: `refused:${err.code}`, message_id: id });
        throw new TerminalError('invalid_command', `the matched rule made an invalid ${type}: ${err.reason}`, { field: '/', type }, 422);
      }
      throw err;
    }
    await this.deps.audit.record({ principal: by, role: null, channel: AuditChannel.http, command: type, target, outcome: 'accepted', message_id: id });
    this.deps.log.info({ command: type, ticket: target, by, message: id }, 'GitHub webhook applied');
  }
}

function header(value: unknown, name: string, max: number): string {
  if (typeof value !== 'string' || value === '' || value.length > max || /[\u0000-\u001f]/.test(value)) {
    throw new TerminalError('missing_header', `${name} must be set (at most ${max} printable characters)`, { field: `headers.${name}` }, 400);
  }
  return value;
}

/** JSON (`application/json`), or GitHub's form encoding (`payload=<json>`); must be an object. */
function parseBody(raw: Buffer, contentType: string | undefined): Record<string, unknown> {
  let text = raw.toString('utf8');
  if (contentType?.startsWith('application/x-www-form-urlencoded')) text = new URLSearchParams(text).get('payload') ?? '';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TerminalError('malformed_json', `the body is not valid JSON: ${(err as Error).message}`, { field: '/' }, 400);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TerminalError('malformed_json', 'the body must be a JSON object', { field: '/' }, 400);
  return value as Record<string, unknown>;
}

/** `sender.login`, reduced to what a GitHub login may hold (it becomes a principal name); `unknown` without one. */
function senderLogin(body: Record<string, unknown>): string {
  const login = (body.sender as { login?: unknown } | undefined)?.login;
  const clean = typeof login === 'string' ? login.replace(/[^A-Za-z0-9_.\[\]-]/g, '').slice(0, LOGIN_MAX) : '';
  return clean || 'unknown';
}

