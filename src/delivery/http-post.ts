import { errorMessage } from '../errors.ts';
import { RouteRejectedError, RouteUnavailableError, type RouteReply } from './delivery-errors.ts';

/** Characters of a receiver's answer kept on the delivery row. */
const ANSWER_CHARS = 200;

export interface PostOptions {
  /** No answer within this long → `route_timeout`, ms. */
  timeoutMs: number;
  /** Aborted when the node stops. */
  signal?: AbortSignal;
}

/**
 * POSTs `body` (JSON) and classifies the answer: 2xx → the reply; 408, 429 and 5xx, a refused
 * connection or no answer in time → `RouteUnavailableError` (retry); any other status →
 * `RouteRejectedError` `route_refused` (give up). A redirect is not followed (it is a
 * refusal): a signed body goes only where it was configured to. Errors never contain the URL:
 * a Slack webhook's path is its secret.
 */
export async function postJson(url: string, body: string, headers: Record<string, string>, opts: PostOptions): Promise<RouteReply> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST', body, redirect: 'manual',
      headers: { ...headers, 'content-type': 'application/json' },
      signal: opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout,
    });
  } catch (err) {
    if (timeout.aborted) throw new RouteUnavailableError('route_timeout', `no answer within ${opts.timeoutMs} ms`);
    throw new RouteUnavailableError('route_unavailable', `connection failed: ${networkCause(err)}`);
  }
  const text = await res.text().catch(() => '');
  const reply: RouteReply = { httpStatus: res.status, answer: `HTTP ${res.status}${text ? ` ${oneLine(text)}` : ''}` };
  if (res.status >= 200 && res.status < 300) return reply;
  if (res.status === 408 || res.status === 429 || res.status >= 500) throw new RouteUnavailableError('route_unavailable', `answered ${reply.answer}`, reply);
  throw new RouteRejectedError('route_refused', `answered ${reply.answer}`, reply);
}

/** fetch's "fetch failed" hides the reason in `cause` (ECONNREFUSED, ENOTFOUND, ...). */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? errorMessage(err);
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > ANSWER_CHARS ? `${line.slice(0, ANSWER_CHARS - 1)}…` : line;
}
