import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import t from 'tap';
import { generateOpenApiDocument, OPENAPI_DOC_PATH } from '../../src/cli/index.ts';
import { declaredCommandRoutes } from '../../src/http/api-schema.ts';
import { OPENAPI_PATH } from '../../src/http/openapi.ts';
import { lookup } from '../../src/protocol/index.ts';
import { request, send, startTestNode, TOKEN, type TestNode } from './helpers.ts';

/**
 * The OpenAPI document (`GET /api/openapi.json`, docs/openapi.json) against the routes the
 * real server registered: a route added without its schema, role or command mapping fails here.
 */

type Json = any;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** Every operation of the document: method (upper case), path template, operation. */
function operations(doc: Json): { method: string; path: string; op: Json }[] {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([m, op]) => ({ method: m.toUpperCase(), path, op })));
}

/** `/api/tickets/:id` (fastify) as `/api/tickets/{id}` (OpenAPI). */
const templateOf = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
const pathParams = (template: string) => [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!).sort();

function resolvePointer(doc: Json, ref: string): unknown {
  let at: Json = doc;
  for (const part of ref.slice(2).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))) {
    if (at === null || typeof at !== 'object' || !(part in at)) return undefined;
    at = at[part];
  }
  return at;
}

function refsOf(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsOf(v, found);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') found.push(v);
      else refsOf(v, found);
    }
  }
  return found;
}

/** A body's validator, with the document's components for its `$ref`s (OpenAPI 3.1 schemas are JSON Schema 2020-12). */
function bodyValidator(doc: Json, schema: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  return ajv.compile({ ...schema, components: doc.components });
}

/** The body a command route expects for the command's protocol example: the example minus what the path and the node give. */
function exampleBody(command: Json): Record<string, unknown> {
  const example = lookup(command.type)!.example as Record<string, unknown>;
  if (command.body_at) return example[command.body_at] as Record<string, unknown>;
  const taken = new Set([...Object.keys(command.params ?? {}), ...(command.set_by_node ?? [])]);
  return Object.fromEntries(Object.entries(example).filter(([k]) => !taken.has(k)));
}

/** The body with one field of the wrong type (by its documented type), or an unknown field when it has none. */
function wrongBody(body: Record<string, unknown>, schema: Json): { body: Record<string, unknown>; field: string } {
  const wrong: Record<string, unknown> = { string: 12345, integer: 'not a number', number: 'not a number', boolean: 'yes', array: 'not a list', object: 'not an object' };
  for (const key of Object.keys(body)) {
    const type = schema.properties?.[key]?.type;
    if (typeof type === 'string' && type in wrong) return { body: { ...body, [key]: wrong[type] }, field: `/${key}` };
  }
  return { body: { ...body, not_a_field: 1 }, field: '/' };
}

/** A path of the route with the example's values in its parameters. */
function pathFor(template: string, command: Json): string {
  const example = lookup(command.type)!.example as Record<string, unknown>;
  const byParam = Object.fromEntries(Object.entries(command.params ?? {}).map(([field, param]) => [param, String(example[field])]));
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(byParam[name] ?? 'x'));
}

async function seedExampleAlert(node: TestNode): Promise<void> {
  const example = lookup('alert.acknowledge')!.example as { alert_id: string; fingerprint: string };
  await node.db.em().getConnection().execute(`insert into omoi_alert (id, fingerprint, kind, severity, status, title, fields, count, notification,
      first_raised_at, last_raised_at, last_notified_at, routes, dedupe_window_ms, updated_at)
    values (?, ?, 'agent_failed', 'critical', 'raised', 'agent agent-7 failed', '{"agent_id":"agent-7"}', 1, 1, now(), now(), now(), '[]', 3600000, now())`,
  [example.alert_id, example.fingerprint]);
}

t.test('GET /api/openapi.json: an OpenAPI 3.1 document of exactly the routes the server registered', async (t) => {
  const node = await startTestNode(t);
  const refused = await request(node.url, 'GET', OPENAPI_PATH, { token: null });
  t.equal(refused.status, 401, 'behind a token like every /api route');
  const res = await request(node.url, 'GET', OPENAPI_PATH);
  t.equal(res.status, 200);
  const doc = res.json;

  t.equal(doc.openapi, '3.1.0');
  t.type(doc.info?.title, 'string');
  t.type(doc.info?.version, 'string');
  t.equal(doc.components?.securitySchemes?.bearer?.scheme, 'bearer');
  const tags = new Set((doc.tags as { name: string }[]).map((tag) => tag.name));
  const ops = operations(doc);
  t.ok(ops.length > 30, 'every route is there');
  for (const { method, path, op } of ops) {
    const at = `${method} ${path}`;
    t.ok(op.responses && Object.keys(op.responses).length > 0, `${at}: has responses`);
    for (const [status, answer] of Object.entries(op.responses as Record<string, Json>)) t.type(answer.description, 'string', `${at} ${status}: described`);
  }
  const ids = ops.map((o) => o.op.operationId);
  t.ok(ids.every((id) => typeof id === 'string' && /^[a-z]+[A-Za-z0-9]*$/.test(id)), 'every operation has an operationId');
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  t.equal(ops.find((o) => o.method === 'GET' && o.path === '/api/tickets/{id}/tasks/{task}/log')?.op.operationId, 'getTicketsByIdTasksByTaskLog', 'named from the method and the path');
  const refs = refsOf(doc);
  t.ok(refs.length > 0, 'the document shares schemas by $ref');
  for (const ref of new Set(refs)) t.ok(ref.startsWith('#/') && resolvePointer(doc, ref) !== undefined, `${ref} resolves`);

  const registered = node.routes.map((r) => ({ ...r, path: templateOf(r.url) }));
  const documentedApi = ops.filter((o) => o.path.startsWith('/api'));
  t.same(
    documentedApi.map((o) => `${o.method} ${o.path}`).sort(),
    registered.map((r) => `${r.method} ${r.path}`).sort(),
    'every /api route fastify registered is documented, and nothing else under /api',
  );

  for (const route of registered) {
    const at = `${route.method} ${route.path}`;
    const op = documentedApi.find((o) => o.method === route.method && o.path === route.path)?.op;
    if (!op) continue;
    // What a new route must declare: config.role (and action), and a schema with all of this.
    t.equal(op['x-omoi-role'], route.role, `${at}: x-omoi-role is its config.role`);
    t.equal(op['x-omoi-audit'], route.action, `${at}: x-omoi-audit is its config.action`);
    t.same(op.security, route.selfAuthenticated ? [] : [{ bearer: [] }], route.selfAuthenticated ? `${at}: its own authentication, no token` : `${at}: bearer security`);
    t.ok(typeof op.summary === 'string' && op.summary.length > 0, `${at}: schema.summary`);
    t.ok(op.tags?.length > 0 && op.tags.every((tag: string) => tags.has(tag)), `${at}: schema.tags, each a declared tag`);
    const success = Object.entries(op.responses as Record<string, Json>).filter(([s]) => /^2\d\d$/.test(s));
    t.ok(success.length > 0 && success.every(([, a]) => a.description !== 'Default Response' && a.content), `${at}: schema.response declares its 2xx answer, with a description`);
    for (const status of ['400', '401', '403']) t.equal(op.responses[status]?.content?.['application/json']?.schema?.$ref, '#/components/schemas/ErrorReply', `${at}: ${status} is the shared error shape`);
    const documentedParams = (op.parameters ?? []).filter((p: Json) => p.in === 'path');
    t.same(documentedParams.map((p: Json) => p.name).sort(), pathParams(route.path), `${at}: its path parameters, by name`);
    // A parameter swagger made up from the URL is a bare string: a declared one says what it takes.
    const declared = (p: Json) => p.schema?.type === 'integer' || p.schema?.minLength >= 1 || typeof p.schema?.pattern === 'string';
    for (const p of documentedParams) t.ok(p.required === true && declared(p), `${at}: path parameter ${p.name} is declared (schema.params)`);
    if (route.action && lookup(route.action)?.kind === 'command') {
      t.equal(op['x-omoi-command']?.type, route.action, `${at}: submits ${route.action}, so declares it (commandRoute)`);
    }
  }

  for (const { method, path, op } of ops.filter((o) => !o.path.startsWith('/api'))) {
    t.same(op.security, [], `${method} ${path}: a probe, no token`);
    const probe = await request(node.url, method, path, { token: null });
    t.not(probe.status, 404, `${method} ${path} exists`);
  }
});

t.test('each command route documents the protocol payload it submits, and the server agrees with it', async (t) => {
  const node = await startTestNode(t);
  await seedExampleAlert(node);
  const doc = (await request(node.url, 'GET', OPENAPI_PATH)).json;
  const commandOps = operations(doc).filter((o) => o.op['x-omoi-command']);
  t.ok(commandOps.length >= 15, 'the command routes are marked');
  let checkedByServer = 0;
  const documented = commandOps.map((o) => JSON.stringify(o.op['x-omoi-command']));
  for (const mapping of declaredCommandRoutes()) {
    t.ok(documented.includes(JSON.stringify(mapping)), `${mapping.type}: a route submits it (commandRoute), so its schema is in the document (spread \`.schema\` into the route's schema)`);
  }
  for (const { method, path, op } of commandOps) {
    const command = op['x-omoi-command'];
    const at = `${method} ${path} (${command.type})`;
    const def = lookup(command.type);
    if (!t.equal(def?.kind, 'command', `${at}: a protocol command`)) continue;
    // An object payload, or a union of object shapes (`merge.resolve`: a commit or a re-run) whose every shape has the path fields.
    const payloadShape = ((def!.payload as Json).anyOf?.[0] ?? def!.payload) as Json;
    const payloadFields = Object.keys(payloadShape.properties);
    for (const [field, param] of Object.entries(command.params ?? {})) {
      t.ok(payloadFields.includes(field), `${at}: ${field} is a payload field`);
      const documented = op.parameters.find((p: Json) => p.in === 'path' && p.name === param);
      t.same(documented?.schema?.pattern, payloadShape.properties[field].pattern, `${at}: path parameter ${param} has the schema of ${field}`);
    }
    const schema = op.requestBody?.content?.['application/json']?.schema;
    if (!schema) {
      const covered = new Set([...Object.keys(command.params ?? {}), ...(command.set_by_node ?? [])]);
      t.ok(payloadFields.every((f) => covered.has(f)), `${at}: no body: the path and the node give every payload field`);
      continue;
    }
    const valid = bodyValidator(doc, schema);
    const body = exampleBody(command);
    t.ok(valid(body), `${at}: the documented body accepts the protocol example ${JSON.stringify(valid.errors ?? [])}`);
    const wrong = wrongBody(body, schema);
    t.notOk(valid(wrong.body), `${at}: the documented body refuses ${JSON.stringify(wrong.body).slice(0, 120)}`);
    t.notOk(valid([body]), `${at}: the documented body refuses an array`);

    const accepted = await send(node.url, method, pathFor(path, command), body);
    t.ok(op.responses[String(accepted.status)], `${at}: its answer ${accepted.status} is documented`);
    if (accepted.status === 404 || accepted.status === 409) {
      // A route that looks its entity up first: seed one for the example's ids (as seedExampleAlert does) to check it here.
      t.comment(`${at}: answered ${accepted.status} ${accepted.json?.error?.code} before reading the body: seed its entity to check the body against the server`);
      continue;
    }
    t.ok(accepted.status >= 200 && accepted.status < 300, `${at}: the server accepts the example body too (${accepted.status} ${accepted.text.slice(0, 200)})`);
    const refused = await send(node.url, method, pathFor(path, command), wrong.body);
    t.equal(refused.status, 400, `${at}: the server refuses the wrong body too`);
    t.equal(refused.json?.error?.code, 'schema_violation', `${at}: with the protocol's error code, not a validator's`);
    checkedByServer++;
  }
  t.ok(checkedByServer >= 14, `the server agreed on ${checkedByServer} command routes' bodies`);
});

t.test('the documentation-only schemas change no answer: the project\'s error codes and fields stay', async (t) => {
  const node = await startTestNode(t);
  const badLimit = await send(node.url, 'GET', '/api/tickets?limit=abc');
  t.equal(badLimit.status, 400);
  t.same(badLimit.json.error.field, 'query.limit');
  t.equal(badLimit.json.error.code, 'invalid_query');
  const badId = await send(node.url, 'GET', '/api/dlq/x');
  t.equal(badId.json.error.code, 'invalid_path');
  const notObject = await send(node.url, 'POST', '/api/tickets/T1/cancel', [1]);
  t.same(notObject.json.error, { code: 'invalid_body', message: 'the body must be a JSON object, not an array', field: '/' });
  const noBody = await request(node.url, 'POST', '/api/tickets/T1/cancel');
  t.equal(noBody.status, 202, 'no body is still an empty payload');
  const tickets = await send(node.url, 'GET', '/api/tickets');
  t.same(Object.keys(tickets.json), ['tickets'], 'answers are serialized as before');
});

t.test('docs/openapi.json is the served document, current, and leaks no secret', async (t) => {
  const node = await startTestNode(t);
  const served = (await request(node.url, 'GET', OPENAPI_PATH)).text;
  const generated = await generateOpenApiDocument();
  const committed = await readFile(OPENAPI_DOC_PATH, 'utf8');
  t.same(JSON.parse(served), JSON.parse(generated), 'a node serves what `omoi docs` generates (no configuration in it)');
  t.ok(committed === generated, 'docs/openapi.json is up to date (run `npm run docs` after changing a route)');
  for (const secret of [TOKEN, 'documentation-only', 'BEGIN PRIVATE KEY']) t.notOk(served.includes(secret), `no ${secret}`);
  t.notMatch(served, /omoi_[A-Za-z0-9_-]{43}/, 'no API token');
});
