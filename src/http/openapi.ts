import fs from 'node:fs';
import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { MAX_MESSAGE_BYTES } from '../protocol/index.ts';
import { ErrorReply, errorAnswer, type CommandExtension } from './api-schema.ts';

declare module 'fastify' {
  interface FastifySchema {
    /** The protocol command the route submits, and how its payload is built (api-schema.ts `commandRoute`). */
    'x-omoi-command'?: CommandExtension;
  }
}

/** Where the document is served (role viewer, like every `/api` route). */
export const OPENAPI_PATH = '/api/openapi.json';

const VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const TAGS = [
  { name: 'tickets', description: 'Tickets, their tasks and joins: reads from PostgreSQL, changes as protocol commands (202)' },
  { name: 'specs', description: 'Specs: a goal planned phase by phase (artifacts and their gates) into one ticket' },
  { name: 'events', description: 'The event log, polled or streamed (Server-Sent Events)' },
  { name: 'agents', description: 'Agents: registration (an ed25519 key pair), heartbeats, budgets' },
  { name: 'alerts', description: 'Alerts and where their notifications went' },
  { name: 'webhooks', description: 'Outgoing webhook subscriptions and their deliveries; the incoming GitHub endpoint' },
  { name: 'memory', description: 'Memory of past work: task results, failure reasons and merge resolutions, searched by full text' },
  { name: 'operations', description: 'Dead letters, the cluster, circuit breakers' },
  { name: 'access', description: 'API tokens and the audit log' },
  { name: 'meta', description: 'This document' },
  { name: 'probes', description: 'Unauthenticated: liveness, readiness, Prometheus metrics' },
];

/**
 * Makes the route schemas an OpenAPI 3.1 document (`app.swagger()`, served at OPENAPI_PATH by
 * routes/openapi.ts, written to docs/openapi.json by `omoi docs`). Must be called before the
 * routes are registered. Each `/api` operation gets, from its `config`, `x-omoi-role` (the
 * weakest role allowed) and `x-omoi-audit` (its audit action), bearer security, and the
 * error answers every `/api` route can give; the probes get no security.
 */
export async function documentApi(app: FastifyInstance): Promise<void> {
  // Documentation only: validation stays in request-input.ts and the protocol's codec, whose
  // error codes and fields the API promises; ajv would answer differently (and coerce).
  app.setValidatorCompiler(() => () => true);
  // Answers are serialized as before (JSON.stringify), not filtered or coerced by the schema.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addSchema(ErrorReply);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Omoi HTTP API',
        version: VERSION,
        description: 'The HTTP API of an Omoi node. Every `/api` route needs `Authorization: Bearer <token>` (the node\'s `OMOI_API_TOKEN`, or a token from `POST /api/tokens`) whose role reaches the route\'s `x-omoi-role` (viewer < operator < admin). Changes are protocol commands (docs/protocol.md): `x-omoi-command` names the command and how its payload is built from the path and the body. Errors are `{ "error": { "code", "message", "field" } }`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API token: `OMOI_API_TOKEN`, or one made by `POST /api/tokens` / `omoi token create`' } },
      },
      tags: TAGS,
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url, route }) => ({ schema: operationSchema(schema, url, route), url }),
    transformObject: (document) => optionalEmptyBodies('openapiObject' in document ? document.openapiObject : document.swaggerObject),
  });
}

/** No body is read as `{}` (server.ts `acceptJsonOnly`): a body whose fields are all optional may be left out. */
function optionalEmptyBodies<T>(document: T): T {
  const paths = (document as { paths?: Record<string, Record<string, { requestBody?: { required?: boolean; content?: Record<string, { schema?: { required?: unknown[] } }> } }>> }).paths ?? {};
  for (const operation of Object.values(paths).flatMap((p) => Object.values(p))) {
    const body = operation.requestBody;
    if (body && !body.content?.['application/json']?.schema?.required?.length) body.required = false;
  }
  return document;
}

/**
 * A stable, unique name of an operation for API client generators, from its method and path:
 * `GET /api/tickets/:id/tasks/:task/log` → `getTicketsByIdTasksByTaskLog`.
 */
function operationIdOf(method: string, url: string): string {
  const words = url.split('/').filter((w) => w && w !== 'api').map((w) => (w.startsWith(':') ? `by-${w.slice(1)}` : w));
  const camel = words.join('-').split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return `${method.toLowerCase()}${camel}`;
}

function operationSchema(schema: FastifySchema | undefined, url: string, route: RouteOptions): FastifySchema {
  const operationId = operationIdOf(Array.isArray(route.method) ? route.method[0]! : route.method, url);
  if (!url.startsWith('/api')) return { ...schema, security: [], operationId } as FastifySchema;
  const role = route.config?.role;
  const action = route.config?.action;
  const extensions = { ...(role ? { 'x-omoi-role': role } : {}), ...(action ? { 'x-omoi-audit': action } : {}) };
  // A route without a schema stays bare, so the document's test names it.
  if (!schema) return { ...extensions, operationId } as FastifySchema;
  // A route that authenticates its caller itself (a signature over the body) takes no token.
  const selfAuthenticated = route.config?.selfAuthenticated === true;
  return {
    ...schema,
    ...extensions,
    operationId,
    description: [schema.description, selfAuthenticated ? 'No token: the request is authenticated by its signature.' : role ? `Needs the \`${role}\` role.` : ''].filter(Boolean).join('\n\n'),
    security: selfAuthenticated ? [] : [{ bearer: [] }],
    response: { ...commonErrors(schema), ...(schema.response as Record<string, unknown> | undefined) },
  };
}

/** The error answers any `/api` route may give, besides those it declares itself. */
function commonErrors(schema: FastifySchema): Record<string, unknown> {
  return {
    400: errorAnswer('Bad input: `code` names the problem (`invalid_query`, `invalid_path`, `schema_violation`, `malformed_json`, …), `field` where it is'),
    401: errorAnswer('`unauthorized`: no, a malformed, unknown or revoked token'),
    403: errorAnswer('`forbidden`: the token\'s role does not reach the route\'s (`x-omoi-role`)'),
    ...(schema.body ? {
      413: errorAnswer(`\`payload_too_large\`: the body is over ${MAX_MESSAGE_BYTES} bytes`),
      415: errorAnswer('`unsupported_media_type`: the body must be JSON (`Content-Type: application/json`)'),
    } : {}),
    429: errorAnswer('`too_many_failures`: too many failed authentications from this address; wait `Retry-After` seconds'),
    500: errorAnswer('`internal`: an unexpected error; the message gives the request id the node logged it with'),
    503: errorAnswer('A dependency (NATS, PostgreSQL) is unavailable for now; retry after `Retry-After`'),
  };
}
