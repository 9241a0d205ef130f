import { randomUUID } from 'node:crypto';
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { CommandDef, MessageDef } from './define.ts';
import { Envelope, MAX_MESSAGE_BYTES, PROTOCOL_VERSION } from './envelope.ts';
import { lookup } from './registry.ts';

/**
 * The one codec every edge uses (NATS ingress, partition consumers, HTTP):
 *
 *   bytes ─► size check ─► JSON.parse ─► envelope schema ─► known type ─► defaults ─► payload schema ─► typed Envelope
 *
 * Each step that fails throws `ProtocolError` with a stable code (`payload_too_large`,
 * `malformed_json`, `invalid_envelope`, `unknown_type`, `schema_violation`) and the JSON
 * pointer of the offending field. The protocol imports nothing else of ours: the error is
 * translated into the project's error family at the edges.
 */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(
    readonly code: string,
    readonly reason: string,
    readonly path?: string,
    readonly type?: string,
  ) {
    super(`${reason} [${code}]`);
  }
}

/**
 * String formats the message schemas use. TypeBox refuses every value of a format it has not
 * been given a checker for, so each one the schemas name is registered here, once.
 * `date-time`: an RFC 3339 timestamp with a zone (`2026-12-02T12:00:00.000Z`).
 */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => RFC3339.test(v) && !Number.isNaN(Date.parse(v)));

const envelopeCheck = TypeCompiler.Compile(Envelope);
const payloadChecks = new Map<string, TypeCheck<TSchema>>();

function payloadCheck(def: MessageDef): TypeCheck<TSchema> {
  let check = payloadChecks.get(def.type);
  if (!check) {
    check = TypeCompiler.Compile(def.payload);
    payloadChecks.set(def.type, check);
  }
  return check;
}

function firstError(check: TypeCheck<TSchema>, value: unknown, prefix: string): { path: string; message: string } {
  const err = check.Errors(value).First();
  if (!err) return { path: prefix || '/', message: 'invalid' };
  const oneOf = (err.schema as { errorMessage?: unknown }).errorMessage;
  if (typeof oneOf === 'string') {
    // A union of shapes (e.g. `merge.resolve`: a commit, or a re-run) says what it wants, at the
    // field that is wrong in the closest shape (the one with the fewest errors).
    const closest = err.errors.map((variant) => [...variant]).sort((a, b) => a.length - b.length)[0]?.[0];
    return { path: `${prefix}${err.path}${closest?.path ?? ''}` || '/', message: closest ? `${oneOf}: ${closest.message}` : oneOf };
  }
  return { path: `${prefix}${err.path}` || '/', message: err.message };
}

/** Parse raw bytes into a JSON value, enforcing the size limit. */
export function parseJson(data: Uint8Array | string): unknown {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > MAX_MESSAGE_BYTES) {
    throw new ProtocolError('payload_too_large', `message is ${size} bytes; the limit is ${MAX_MESSAGE_BYTES}`);
  }
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ProtocolError('malformed_json', `body is not JSON: ${(err as Error).message}`);
  }
}

/** Validate a payload of a known type, filling schema defaults. Returns a new object. */
export function validatePayload<S extends TSchema>(type: string, payload: unknown, prefix = '/payload'): Static<S> {
  const def = lookup(type);
  if (!def) throw new ProtocolError('unknown_type', `unknown message type ${JSON.stringify(type)}`, '/type', type);
  const filled = Value.Default(def.payload, Value.Clone(payload ?? {}));
  const check = payloadCheck(def);
  if (!check.Check(filled)) {
    const { path, message } = firstError(check, filled, prefix);
    throw new ProtocolError('schema_violation', `${path}: ${message}`, path, type);
  }
  return filled as Static<S>;
}

/** Decode a full envelope (what travels on partition and event subjects). */
export function decodeEnvelope(data: Uint8Array | string): Envelope {
  const value = parseJson(data);
  return checkEnvelope(value);
}

export function checkEnvelope(value: unknown): Envelope {
  if (!envelopeCheck.Check(value)) {
    const { path, message } = firstError(envelopeCheck as TypeCheck<TSchema>, value, '');
    throw new ProtocolError('invalid_envelope', `envelope ${path}: ${message}`, path);
  }
  const payload = validatePayload(value.type, value.payload);
  return { ...value, payload };
}

/**
 * Decode what an outside client published on `omoi.in.<type>`: either a full envelope, or a
 * bare payload (the friendly form for `nats pub`), in which case the subject gives the type
 * and the `Nats-Msg-Id` header (or a fresh uuid) the id.
 */
export function decodeIngress(subject: string, data: Uint8Array | string, msgId: string | undefined, source = 'ingress'): Envelope {
  const value = parseJson(data);
  const subjectType = subject.split('.').slice(2).join('.');
  const isEnvelope = typeof value === 'object' && value !== null && !Array.isArray(value) && 'payload' in value && 'type' in value;
  const env = isEnvelope ? checkEnvelope(value) : checkEnvelope(makeEnvelope(subjectType, value, { source, id: msgId }));
  if (env.type !== subjectType) {
    throw new ProtocolError('schema_violation', `/type: envelope type ${JSON.stringify(env.type)} does not match subject type ${JSON.stringify(subjectType)}`, '/type', env.type);
  }
  const def = lookup(env.type);
  if (def?.kind !== 'command' || !(def as CommandDef).ingress) {
    throw new ProtocolError('unknown_type', `${JSON.stringify(env.type)} is not a command clients may send`, '/type', env.type);
  }
  return env;
}

export function makeEnvelope<P>(
  type: string,
  payload: P,
  opts: { source: string; id?: string; causation?: Envelope; correlationId?: string; time?: Date },
): Envelope<P> {
  const env: Envelope<P> = {
    id: opts.id ?? randomUUID(),
    type,
    version: PROTOCOL_VERSION,
    time: (opts.time ?? new Date()).toISOString(),
    source: opts.source,
    payload,
  };
  const correlation = opts.correlationId ?? opts.causation?.correlation_id ?? opts.causation?.id;
  if (correlation) env.correlation_id = correlation;
  if (opts.causation) env.causation_id = opts.causation.id;
  return env;
}

export function encode(env: Envelope): Uint8Array {
  return Buffer.from(JSON.stringify(env));
}
