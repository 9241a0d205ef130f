import { RetryableError, TerminalError } from '../errors.ts';
import { ProtocolError } from '../protocol/index.ts';

/**
 * The one error shape of the HTTP API. `field` names what was wrong: a JSON pointer into the
 * request body (`/tasks/0/id`, `/` for the whole body), or `query.<name>`, `params.<name>`,
 * `headers.<name>` for the other parts of a request.
 */
export interface ErrorBody { error: { code: string; message: string; field?: string } }

export interface ErrorReply { status: number; body: ErrorBody; headers?: Record<string, string>; unexpected: boolean }

/** Bad input at the HTTP edge, naming the offending field. */
export function badRequest(code: string, message: string, field: string, status = 400): TerminalError {
  return new TerminalError(code, message, { field }, status);
}

/** Fastify's own 4xx errors, translated into stable codes and fields. */
const FRAMEWORK_ERRORS: Record<string, { status: number; code: string; field: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', field: '/' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', field: 'headers.content-type', message: 'the body must be JSON (Content-Type: application/json)' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_content_length', field: 'headers.content-length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'malformed_json', field: '/' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'malformed_json', field: '/' },
  FST_ERR_BAD_URL: { status: 400, code: 'bad_url', field: 'url' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'uri_too_long', field: 'url' },
};

/**
 * Maps any thrown value to a status and JSON body. Input errors (TerminalError, ProtocolError,
 * fastify's 4xx) keep their message; anything else becomes a 500 that reveals nothing but the
 * request id, and is flagged `unexpected` so the caller logs it.
 */
export function errorReply(err: unknown, requestId: string): ErrorReply {
  if (err instanceof ProtocolError) {
    const field = protocolField(err.path);
    const status = err.code === 'payload_too_large' ? 413 : 400;
    return { status, body: { error: { code: err.code, message: protocolMessage(err, field), field } }, unexpected: false };
  }
  if (err instanceof TerminalError) {
    const field = typeof err.details.field === 'string' ? err.details.field : typeof err.details.path === 'string' ? err.details.path : undefined;
    return { status: err.status, body: { error: { code: err.code, message: withoutCode(err.message, err.code), ...(field ? { field } : {}) } }, unexpected: false };
  }
  if (err instanceof RetryableError) {
    return { status: 503, headers: { 'retry-after': '1' }, body: { error: { code: err.code, message: withoutCode(err.message, err.code) } }, unexpected: false };
  }
  const fastifyCode = (err as { code?: unknown })?.code;
  const known = typeof fastifyCode === 'string' ? FRAMEWORK_ERRORS[fastifyCode] : undefined;
  if (known) {
    return { status: known.status, body: { error: { code: known.code, message: known.message ?? (err as Error).message, field: known.field } }, unexpected: false };
  }
  const statusCode = (err as { statusCode?: unknown })?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return { status: statusCode, body: { error: { code: 'bad_request', message: (err as Error).message, field: 'request' } }, unexpected: false };
  }
  return {
    status: 500,
    body: { error: { code: 'internal', message: `internal error; the node logged it with request id ${requestId}` } },
    unexpected: true,
  };
}

/** A ProtocolError path is relative to the envelope (`/payload/...`); the client sent the payload. */
export function protocolField(path: string | undefined): string {
  if (!path) return '/';
  const rest = path.startsWith('/payload') ? path.slice('/payload'.length) : path;
  return rest === '' ? '/' : rest;
}

/** `reason` repeats the envelope path; restate it with the field the client knows. */
export function protocolMessage(err: ProtocolError, field: string): string {
  const prefix = err.path ? `${err.path}: ` : '';
  const detail = prefix && err.reason.startsWith(prefix) ? err.reason.slice(prefix.length) : err.reason;
  return err.path ? `${field}: ${detail}` : detail;
}

function withoutCode(message: string, code: string): string {
  const suffix = ` [${code}]`;
  return message.endsWith(suffix) ? message.slice(0, -suffix.length) : message;
}
