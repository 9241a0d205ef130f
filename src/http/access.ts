import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { isRole, roleAllows, Role, type Principal } from '../access/index.ts';
import { AuditChannel, auditTarget } from '../audit/index.ts';
import { TerminalError } from '../errors.ts';
import { authenticate } from './auth.ts';
import { AuthFailures } from './auth-failures.ts';
import type { HttpDeps } from './deps.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The weakest role allowed to call the route. Every `/api` route must declare one. */
    role?: Role;
    /** Set on state-changing routes: the audit log's command (`ticket.cancel`, `token.create`). */
    action?: string;
    /**
     * The route authenticates its caller itself (a signature over the body: `POST /api/hooks/github`),
     * not by bearer token; it must record a failed check with `app.authFailures.failed(ip)`.
     */
    selfAuthenticated?: true;
  }
  interface FastifyInstance {
    /** The role and audit action of every `/api` route, as registered. */
    apiAccess: readonly RouteAccess[];
    /** Failed authentications per client address (also counted by self-authenticated routes). */
    authFailures: AuthFailures;
  }
  interface FastifyRequest {
    /** Who the request acts as, once authenticated (`/api` only). */
    principal: Principal | null;
  }
}

/** What one `/api` route needs: the method, the path pattern, its role and audit action. */
export interface RouteAccess { method: string; url: string; role: Role; action?: string; selfAuthenticated?: true }

/**
 * Access control and audit of the `/api` routes, in one place:
 *
 * 1. Registering an `/api` route without a valid `config.role` fails the build (fail closed):
 *    a new route cannot forget. `app.apiAccess` lists what every route declared.
 * 2. onRequest: an address with too many recent authentication failures gets 429
 *    `too_many_failures` with `Retry-After`, whatever it sends. Then the bearer token must
 *    name a live principal (else 401 `unauthorized`, counted as a failure), whose role must
 *    reach the route's (else 403 `forbidden`, naming the role needed). A route with
 *    `config.selfAuthenticated` skips the token: it checks a signature itself and counts its
 *    failures in the same window (`app.authFailures`).
 * 3. onSend: a request to a route with `config.action`, from an authenticated principal,
 *    writes exactly one audit row with its outcome (`accepted`, or `refused:<code>` for any
 *    error answer, 403 and validation errors included), before the answer leaves.
 */
export function guardApi(app: FastifyInstance, deps: HttpDeps, isApiRequest: (req: FastifyRequest) => boolean): void {
  const routes: RouteAccess[] = [];
  const failures = new AuthFailures(deps.authFailureLimit);
  app.decorate('apiAccess', routes);
  app.decorate('authFailures', failures);
  app.decorateRequest('principal', null);

  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.url.startsWith('/api')) return;
    const role = route.config?.role;
    if (!isRole(role)) throw new Error(`${String(route.method)} ${route.url} declares no role: give it config.role (${Object.values(Role).join(', ')})`);
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({
      method, url: route.url, role, ...(route.config?.action ? { action: route.config.action } : {}), ...(route.config?.selfAuthenticated ? { selfAuthenticated: true as const } : {}),
    });
  });

  app.addHook('onRequest', async (req, reply) => {
    if (!isApiRequest(req)) return;
    const waitMs = failures.retryAfterMs(req.ip);
    if (waitMs > 0) {
      reply.header('retry-after', String(Math.ceil(waitMs / 1000)));
      throw new TerminalError('too_many_failures', 'too many failed authentications from this address; wait for Retry-After seconds', { field: 'headers.authorization' }, 429);
    }
    // Signed routes check their signature in the handler (which needs the body); the limit above still applies.
    if (req.routeOptions.config?.selfAuthenticated && !req.is404) return;
    try {
      req.principal = await authenticate(req.headers.authorization, deps.principals);
    } catch (err) {
      if (err instanceof TerminalError && err.status === 401) failures.failed(req.ip);
      throw err;
    }
    const need = req.routeOptions.config.role;
    if (req.is404 || !need) return; // unknown routes answer 404 to any principal
    if (!roleAllows(req.principal.role, need)) {
      throw new TerminalError('forbidden', `${need} role needed; ${req.principal.name} is ${req.principal.role}`, { field: 'headers.authorization' }, 403);
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const action = req.routeOptions.config?.action;
    if (!action || !req.principal || req.is404) return payload;
    await deps.audit.record({
      principal: req.principal.name, role: req.principal.role, channel: AuditChannel.http, command: action,
      ...outcomeOf(req, reply, payload),
    });
    return payload;
  });
}

/** Outcome, target and message id of an answered request, from its answer (never its headers). */
function outcomeOf(req: FastifyRequest, reply: FastifyReply, payload: unknown): { outcome: string; target: string | null; message_id: string | null } {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = typeof payload === 'string' ? JSON.parse(payload) : undefined;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: the status alone tells the outcome.
  }
  const error = body.error as { code?: unknown } | undefined;
  const refused = reply.statusCode >= 400;
  const params = Object.values((req.params ?? {}) as Record<string, string>);
  const requestBody = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
  return {
    outcome: refused ? `refused:${typeof error?.code === 'string' ? error.code : reply.statusCode}` : 'accepted',
    target: (refused ? null : auditTarget(body)) ?? (params.length ? params.join('/') : null) ?? auditTarget(requestBody),
    message_id: !refused && typeof body.message_id === 'string' ? body.message_id : null,
  };
}
