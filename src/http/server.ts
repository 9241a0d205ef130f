import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import { ConfigError } from '../errors.ts';
import { SECRET_LOG_PATHS, type Logger } from '../logging/logger.ts';
import { httpMethodLabel, httpRouteLabel } from '../metrics.ts';
import { MAX_MESSAGE_BYTES } from '../protocol/index.ts';
import { guardApi, type RouteAccess } from './access.ts';
import type { HttpDeps } from './deps.ts';
import { badRequest, errorReply } from './error-reply.ts';
import { agentDetailRoutes } from './routes/agent-detail.ts';
import { documentApi } from './openapi.ts';
import { agentRoutes } from './routes/agents.ts';
import { alertDeliveryRoutes } from './routes/alert-deliveries.ts';
import { alertRoutes } from './routes/alerts.ts';
import { auditRoutes } from './routes/audit.ts';
import { breakerRoutes } from './routes/breakers.ts';
import { clusterRoutes } from './routes/cluster.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { eventStreamRoutes } from './routes/event-stream.ts';
import { eventRoutes } from './routes/events.ts';
import { githubHookRoutes } from './routes/github-hook.ts';
import { healthRoutes } from './routes/health.ts';
import { supervisionRoutes } from './routes/supervision.ts';
import { openApiRoutes } from './routes/openapi.ts';
import { mergeAttemptRoutes } from './routes/merge-attempts.ts';
import { taskDetailRoutes } from './routes/task-detail.ts';
import { specRoutes } from './routes/specs.ts';
import { ticketRoutes } from './routes/tickets.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { vendorRoutes } from './vendor.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { memoryRoutes } from './routes/memory.ts';

const DASHBOARD_DIR = fileURLToPath(new URL('./dashboard/', import.meta.url));

/**
 * Builds the node's HTTP server (not listening): probes, the authenticated `/api`, and the
 * dashboard; the route schemas make its OpenAPI document (openapi.ts). Every failure is answered by one error handler as `{ error: { code, message,
 * field } }`; nothing a client sends can throw past it. Access (roles, rate limit, audit) is
 * `guardApi` in access.ts. The node's API token becomes the bootstrap `admin` principal.
 * Throws `ConfigError` when the node has no API token (the API never runs open).
 */
export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const apiToken = deps.config.apiToken;
  if (!apiToken) throw new ConfigError('OMOI_API_TOKEN', 'the HTTP API needs a token; none was configured or generated');
  await deps.principals.ensureBootstrapAdmin(apiToken);
  const log = deps.log.child({ component: 'http' }, { redact: SECRET_LOG_PATHS });

  const app = Fastify({
    // pino's own types and fastify's copy of them differ only nominally.
    loggerInstance: log as FastifyBaseLogger,
    // The dashboard polls every second: per-request lines go to debug (see countRequests).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_MESSAGE_BYTES,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 300 },
    // Bad percent-encoding and overlong path parameters are answered like every other error.
    frameworkErrors: (err, req, reply) => sendError(err, req, reply, log),
  });

  app.setErrorHandler((err, req, reply) => sendError(err, req, reply, log));
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: 'not_found', message: `no route for ${req.method} ${pathOf(req.url)}`, field: 'url' } });
  });

  acceptJsonOnly(app);
  // Before any route: the document is made from the schemas of the routes registered after it.
  await documentApi(app);

  guardApi(app, deps, isApiRequest);
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    if (isApiRequest(req)) reply.header('cache-control', 'no-store');
    else reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
  });
  countRequests(app, deps);

  await app.register(async (probes) => healthRoutes(probes, deps));
  await app.register(async (api) => {
    await ticketRoutes(api, deps);
    await taskDetailRoutes(api, deps);
    await mergeAttemptRoutes(api, deps);
    await eventRoutes(api, deps);
    await eventStreamRoutes(api, deps);
    await agentRoutes(api, deps);
    await agentDetailRoutes(api, deps);
    await deadLetterRoutes(api, deps);
    await clusterRoutes(api, deps);
    await supervisionRoutes(api, deps);
    await breakerRoutes(api, deps);
    await tokenRoutes(api, deps);
    await auditRoutes(api, deps);
    await alertDeliveryRoutes(api, deps);
    await alertRoutes(api, deps);
    await openApiRoutes(api);
    await webhookRoutes(api, deps);
    await memoryRoutes(api, deps);
    await specRoutes(api, deps);
    // Its own body parsing (the raw bytes are signed), in a plugin of its own.
    await api.register(async (github) => githubHookRoutes(github, deps));
  }, { prefix: '/api' });
  await app.register(vendorRoutes);
  await app.register(fastifyStatic, { root: DASHBOARD_DIR, prefix: '/', wildcard: false, index: 'index.html' });

  await app.ready();
  return app;
}

/**
 * Starts the HTTP server on `config.httpHost:config.httpPort` (port 0 picks a free one).
 * `close()` stops accepting, finishes in-flight requests, and may be called more than once;
 * `routes` is the role and audit action of every `/api` route.
 */
export async function startHttp(deps: HttpDeps): Promise<{ url: string; port: number; routes: readonly RouteAccess[]; close(): Promise<void> }> {
  const app = await buildHttpServer(deps);
  try {
    await app.listen({ host: deps.config.httpHost, port: deps.config.httpPort });
  } catch (err) {
    await app.close();
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  const url = `http://${displayHost(deps.config.httpHost)}:${port}`;
  deps.log.debug({ url }, 'HTTP API and dashboard listening');
  let closing: Promise<void> | undefined;
  return { url, port, routes: app.apiAccess, close: () => (closing ??= app.close()) };
}

function sendError(err: unknown, req: FastifyRequest, reply: FastifyReply, log: Logger): void {
  const answer = errorReply(err, req.id);
  if (answer.unexpected) log.error({ err, method: req.method, url: req.url, reqId: req.id }, 'unexpected error answering an HTTP request');
  if (answer.status === 401) reply.header('www-authenticate', 'Bearer');
  if (answer.headers) reply.headers(answer.headers);
  reply.code(answer.status).type('application/json; charset=utf-8').send(answer.body);
}

/**
 * JSON is the only body the API takes. An empty body counts as none (`{}` for commands);
 * a body that is not JSON, or that smuggles `__proto__`/`constructor.prototype`, is a 400
 * naming the problem. Other content types are refused by fastify with 415.
 */
function acceptJsonOnly(app: FastifyInstance): void {
  const strictJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    strictJson(req, text, (err: Error | null, value?: unknown) => {
      if (err) done(jsonError(text), undefined);
      else done(null, value);
    });
  });
}

function jsonError(text: string): Error {
  try {
    JSON.parse(text);
  } catch (err) {
    return badRequest('malformed_json', `the body is not valid JSON: ${(err as Error).message}`, '/');
  }
  return badRequest('forbidden_key', 'the body contains a "__proto__" or "constructor.prototype" key', '/');
}

const HTTP_COUNTER = 'omoi_http_requests_total';

/** Counts requests by method, route pattern and status (the counter is registered once per metrics registry) and logs each at debug. */
function countRequests(app: FastifyInstance, deps: HttpDeps): void {
  const registry = deps.metrics.registry;
  const counter = (registry.getSingleMetric(HTTP_COUNTER) as Counter<'method' | 'route' | 'status'> | undefined)
    ?? new Counter({ name: HTTP_COUNTER, help: 'HTTP requests answered, by method, route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    counter.inc({ method: httpMethodLabel(req.method), route: httpRouteLabel(req.routeOptions.url), status: String(reply.statusCode) });
  });
}

function isApiRequest(req: FastifyRequest): boolean {
  const route = req.routeOptions.url;
  const path = pathOf(req.url);
  return route?.startsWith('/api') === true || path === '/api' || path.startsWith('/api/');
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
