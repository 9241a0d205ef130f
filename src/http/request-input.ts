import { Id } from '../protocol/index.ts';
import { badRequest } from './error-reply.ts';

const ID_PATTERN = new RegExp(Id.pattern!);
const ID_MAX = Id.maxLength!;

/**
 * Readers of the parts of a request that are not the command payload (query string, path
 * parameters, headers). Each returns a typed value or throws a 400 naming the field, so
 * handlers never see a repeated query parameter or a non-numeric id.
 */

type Bag = unknown;

function raw(bag: Bag, name: string): unknown {
  return bag && typeof bag === 'object' ? (bag as Record<string, unknown>)[name] : undefined;
}

/** The body as a JSON object; an absent body is `{}`. */
export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('invalid_body', `the body must be a JSON object, not ${Array.isArray(body) ? 'an array' : typeof body}`, '/');
  }
  return body as Record<string, unknown>;
}

export function queryString(query: Bag, name: string, maxLength = 200): string | undefined {
  const value = raw(query, name);
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw badRequest('invalid_query', `query parameter ${name} must be given once`, `query.${name}`);
  if (value.length > maxLength) throw badRequest('invalid_query', `query parameter ${name} is longer than ${maxLength} characters`, `query.${name}`);
  // PostgreSQL text cannot hold NUL: refuse it here rather than fail in the query.
  if (value.includes('\u0000')) throw badRequest('invalid_query', `query parameter ${name} contains a NUL character`, `query.${name}`);
  return value;
}

/** An entity id (ticket, task, agent) in the query string, checked against the protocol's id pattern. */
export function queryId(query: Bag, name: string): string | undefined {
  const value = queryString(query, name, ID_MAX);
  if (value !== undefined && !ID_PATTERN.test(value)) {
    throw badRequest('invalid_query', `query parameter ${name} is not a valid id (letters, digits, _ . : -)`, `query.${name}`);
  }
  return value;
}

export function queryEnum<T extends string>(query: Bag, name: string, allowed: readonly T[]): T | undefined {
  const value = queryString(query, name);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw badRequest('invalid_query', `query parameter ${name} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`, `query.${name}`);
  }
  return value as T;
}

export function queryInt(query: Bag, name: string, opts: { min: number; max: number; default: number }): number;
export function queryInt(query: Bag, name: string, opts: { min: number; max: number }): number | undefined;
export function queryInt(query: Bag, name: string, opts: { min: number; max: number; default?: number }): number | undefined {
  const value = queryString(query, name, 20);
  if (value === undefined) return opts.default;
  return integer(value, opts.min, opts.max, `query.${name}`, `query parameter ${name}`);
}

export function queryFlag(query: Bag, name: string): boolean {
  const value = queryEnum(query, name, ['1', '0', 'true', 'false'] as const);
  return value === '1' || value === 'true';
}

/** A point in time in the query string: an ISO 8601 date-time with its zone (`2026-12-02T10:00:00Z`). */
export function queryTime(query: Bag, name: string): Date | undefined {
  const value = queryString(query, name, 40);
  if (value === undefined) return undefined;
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? new Date(value) : undefined;
  if (!at || Number.isNaN(at.getTime())) {
    throw badRequest('invalid_query', `query parameter ${name} must be an ISO 8601 time with a zone (2026-12-02T10:00:00Z); got ${JSON.stringify(value)}`, `query.${name}`);
  }
  return at;
}

/** A path parameter that must be a positive integer (dead-letter ids). */
export function paramInt(params: Bag, name: string): number {
  const value = raw(params, name);
  return integer(typeof value === 'string' ? value : '', 1, 2_147_483_647, `params.${name}`, `path parameter ${name}`);
}

/** A path parameter as given; command payloads validate it (and name it in their errors). */
export function paramString(params: Bag, name: string): string {
  const value = raw(params, name);
  if (typeof value !== 'string' || value === '') throw badRequest('invalid_path', `path parameter ${name} is missing`, `params.${name}`);
  return value;
}

/** An entity id in the path that is looked up directly, checked against the protocol's id pattern. */
export function paramId(params: Bag, name: string): string {
  const value = paramString(params, name);
  if (value.length > ID_MAX || !ID_PATTERN.test(value)) {
    throw badRequest('invalid_path', `path parameter ${name} is not a valid id (letters, digits, _ . : -, at most ${ID_MAX})`, `params.${name}`);
  }
  return value;
}

/** `Idempotency-Key` lets a client retry a POST without submitting the command twice. */
export function idempotencyKey(headers: Bag): string | undefined {
  const value = raw(headers, 'idempotency-key');
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length < 1 || value.length > 200) {
    throw badRequest('invalid_header', 'Idempotency-Key must be 1 to 200 characters, given once', 'headers.idempotency-key');
  }
  return value;
}

function integer(text: string, min: number, max: number, field: string, what: string): number {
  const n = /^-?\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const code = field.startsWith('params.') ? 'invalid_path' : 'invalid_query';
    throw badRequest(code, `${what} must be an integer from ${min} to ${max}; got ${JSON.stringify(text)}`, field);
  }
  return n;
}
