import { Type, TypeGuard, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { lookup, type CommandType } from '../protocol/index.ts';
import type { PayloadOrigin } from './submit-command.ts';

/**
 * Building blocks of the route schemas that `src/http/openapi.ts` turns into the OpenAPI
 * document. The schemas document the API; validation stays where it is (request-input.ts and
 * the protocol's codec), so these never change an answer.
 */

/** The one error shape of the API (`ErrorBody` in error-reply.ts), shared as `#/components/schemas/ErrorReply`. */
export const ErrorReply = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'stable, machine-readable: `schema_violation`, `invalid_query`, `not_found`, `forbidden`, …' }),
    message: Type.String({ description: 'for people' }),
    field: Type.Optional(Type.String({ description: 'what was wrong: a JSON pointer into the body (`/tasks/0/id`, `/` for the whole body), or `query.<name>`, `params.<name>`, `headers.<name>`, `url`' })),
  }),
}, { $id: 'ErrorReply', description: 'Every error answer of the API' });

/** An error answer with what it means on this route. */
export function errorAnswer(description: string): { $ref: string; description: string } {
  return { $ref: 'ErrorReply#', description };
}

/** A row of a table as JSON (dates as ISO strings); its columns are its entity's (src/persistence/entities/). */
export function Row(description: string): TSchema {
  return Type.Object({}, { additionalProperties: true, description });
}

/** The bounds of a `?limit=`: given to request-input.ts `queryInt` and documented by `Limit`. */
export interface LimitBounds { min: number; max: number; default: number }

/** The schema of a `?limit=` read with `queryInt(query, 'limit', bounds)`. */
export function Limit(bounds: LimitBounds): TSchema {
  return Type.Integer({ minimum: bounds.min, maximum: bounds.max, default: bounds.default, description: `at most this many (${bounds.min} to ${bounds.max})` });
}

/** A 202 answer to a command: the entity it names and the id of the message published. */
export function Accepted(fields: TProperties, description = 'Accepted: the command was published durably; its actor applies it, or rejects it with a `*.rejected` event'): TSchema {
  return Type.Object({ ...fields, message_id: Type.String({ description: 'the command\'s message id (the `Idempotency-Key` when one was sent)' }) }, { description });
}

/** The `Idempotency-Key` header every command route reads (request-input.ts `idempotencyKey`). */
export const IdempotencyHeader = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'retrying with the same key submits the command once (it becomes the message id)' })),
});

/** How a route builds a protocol command's payload from the request. */
export interface CommandMapping {
  /** Payload field → the path parameter it comes from, e.g. `{ ticket_id: 'id' }`. */
  params?: Record<string, string>;
  /** The body is this payload field, not the payload (`task.add`: the body is the task). */
  bodyAt?: string;
  /** Payload fields the node fills in, whatever the body says (a generated key, the caller's name). */
  setByNode?: string[];
  /** Payload fields the body may leave out because the node makes one up (`ticket_id`, `agent_id`). */
  optional?: string[];
  /** The route reads no body: the whole payload comes from the path and the node. */
  noBody?: boolean;
}

/** What an OpenAPI operation says about the command it submits (`x-omoi-command`). */
export interface CommandExtension { type: string; params?: Record<string, string>; body_at?: string; set_by_node?: string[]; optional?: string[] }

/** A route's command: what `submitCommand` sends, and the schema parts that document it. */
export interface CommandRoute {
  type: CommandType;
  origin: PayloadOrigin;
  schema: { description: string; params?: TSchema; body?: TSchema; headers: TSchema; 'x-omoi-command': CommandExtension };
}

/** Every command mapping a route declared (by its JSON), so a test can find one left out of the document. */
const declared = new Map<string, CommandExtension>();

export function declaredCommandRoutes(): CommandExtension[] {
  return [...declared.values()];
}

/**
 * The schema parts of a route that submits `type`, derived from the protocol's payload schema
 * (never written twice): the path parameters (their payload fields' schemas), the body (the
 * payload minus the fields taken from the path or set by the node), the command's description,
 * and `x-omoi-command` naming the command and the mapping. `origin` is what `submitCommand`
 * needs to name a bad field as the client sent it.
 */
export function commandRoute(type: CommandType, how: CommandMapping = {}): CommandRoute {
  const def = lookup(type);
  if (def?.kind !== 'command' || !def.ingress) throw new Error(`${type} is not a command clients may send`);
  // A payload is an object, or a union of object shapes (`merge.resolve`: a commit, or a re-run):
  // then each shape gives a body, and the path parameters must be in every one.
  const shapes = TypeGuard.IsUnion(def.payload) ? def.payload.anyOf : [def.payload];
  if (!shapes.every((shape) => TypeGuard.IsObject(shape))) throw new Error(`${type}: its payload is not an object schema (or a union of them)`);
  const objects = shapes as TObject[];
  const payload = objects[0]!;
  const params = how.params ?? {};
  const fromPath = Object.entries(params).map(([field, param]) => [param, propertyOf(type, payload, field)] as const);
  for (const shape of objects.slice(1)) for (const field of Object.keys(params)) propertyOf(type, shape, field);
  const bodies = how.noBody ? [] : objects.map((shape) => bodySchema(type, shape, how));
  const body = bodies.length > 1 ? Type.Union(bodies, { description: 'exactly one of these shapes' }) : bodies[0];
  const extension: CommandExtension = {
    type,
    ...(how.params ? { params: how.params } : {}),
    ...(how.bodyAt ? { body_at: how.bodyAt } : {}),
    ...(how.setByNode ? { set_by_node: how.setByNode } : {}),
    ...(how.optional ? { optional: how.optional } : {}),
  };
  declared.set(JSON.stringify(extension), extension);
  return {
    type,
    origin: { ...(how.params ? { params: how.params } : {}), ...(how.bodyAt ? { bodyAt: `/${how.bodyAt}` } : {}) },
    schema: {
      description: def.description,
      ...(fromPath.length ? { params: Type.Object(Object.fromEntries(fromPath)) } : {}),
      ...(body ? { body } : {}),
      headers: IdempotencyHeader,
      'x-omoi-command': extension,
    },
  };
}

function bodySchema(type: string, payload: TObject, how: CommandMapping): TSchema {
  if (how.bodyAt) return propertyOf(type, payload, how.bodyAt);
  const taken = new Set([...Object.keys(how.params ?? {}), ...(how.setByNode ?? [])]);
  const optional = new Set(how.optional ?? []);
  const properties: TProperties = {};
  for (const [name, schema] of Object.entries(payload.properties)) {
    if (taken.has(name)) continue;
    properties[name] = optional.has(name) ? Type.Optional(schema) : schema;
  }
  for (const name of [...taken, ...optional]) propertyOf(type, payload, name);
  return Type.Object(properties, { additionalProperties: payload.additionalProperties ?? true });
}

function propertyOf(type: string, payload: TObject, name: string): TSchema {
  const schema = payload.properties[name];
  if (!schema) throw new Error(`${type} has no payload field ${name}`);
  return schema;
}
