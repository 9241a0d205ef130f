import type { FastifyRequest } from 'fastify';
import { TerminalError } from '../errors.ts';
import { ProtocolError } from '../protocol/index.ts';
import type { CommandRoute } from './api-schema.ts';
import type { HttpDeps } from './deps.ts';
import { protocolField, protocolMessage } from './error-reply.ts';
import { idempotencyKey } from './request-input.ts';

/**
 * Where the fields of a command payload came from in the request, so that a schema error on
 * the payload names what the client actually sent: a path parameter (`params.id`), or the
 * body mounted under a payload key (`task.add` puts the body at `/task`).
 */
export interface PayloadOrigin {
  /** payload key → path parameter name, e.g. `{ ticket_id: 'id' }`. */
  params?: Record<string, string>;
  /** JSON pointer in the payload where the request body sits; default: the payload is the body. */
  bodyAt?: string;
}

/**
 * Hands the command of `command` (a route's `commandRoute`, which also documents it) to
 * `deps.submit` (which validates and publishes it durably), using the request's
 * `Idempotency-Key` as the message id when given. A `ProtocolError` is rethrown as a 4xx
 * `TerminalError` whose `field` points into the request, not into the envelope.
 */
export async function submitCommand(
  deps: HttpDeps, req: FastifyRequest, command: CommandRoute, payload: Record<string, unknown>,
  /** The message id; default: the request's `Idempotency-Key` (a fan-out gives each of its commands one). */
  id: string | undefined = idempotencyKey(req.headers),
): Promise<{ id: string }> {
  const { type, origin } = command;
  try {
    const by = req.principal?.name;
    return await deps.submit(type, payload, id || by ? { ...(id ? { id } : {}), ...(by ? { by } : {}) } : undefined);
  } catch (err) {
    if (err instanceof ProtocolError) throw requestError(err, origin);
    throw err;
  }
}

/** A `ProtocolError` of a route's payload as the 4xx answer naming the request's field. */
export function requestError(err: ProtocolError, origin: PayloadOrigin): TerminalError {
  const payloadField = protocolField(err.path);
  const field = requestField(payloadField, origin);
  const status = err.code === 'payload_too_large' ? 413 : 400;
  return new TerminalError(err.code, protocolMessage(err, field), { field, type: err.type }, status);
}

function requestField(payloadField: string, origin: PayloadOrigin): string {
  const [first = ''] = payloadField.split('/').filter(Boolean);
  const param = origin.params?.[first];
  if (param) return `params.${param}`;
  if (origin.bodyAt) {
    if (payloadField === origin.bodyAt) return '/';
    if (payloadField.startsWith(`${origin.bodyAt}/`)) return payloadField.slice(origin.bodyAt.length);
  }
  return payloadField;
}
