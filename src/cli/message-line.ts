import { typeFromSubject } from '../protocol/index.ts';

/** Payload fields shown by `omoi sub --pretty`, in this order, when present. */
const KEY_FIELDS = [
  'ticket_id', 'task_id', 'join_id', 'agent_id', 'node_id', 'actor', 'entity', 'status', 'action', 'attempt', 'severity', 'code',
  'path', 'reason', 'message', 'error', 'commit', 'head', 'dead_letter_id',
];
const MAX_VALUE = 100;

/** The body as JSON if it is JSON, else as text. */
export function bodyValue(data: Uint8Array): unknown {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** One message as one JSON line: `{"subject":…,"data":…}` (data parsed when it is JSON). */
export function jsonLine(subject: string, data: Uint8Array): string {
  return JSON.stringify({ subject, data: bodyValue(data) });
}

/**
 * One message as a line for people: `HH:MM:SS.mmm type key=value …`. The time and type come
 * from the envelope when the body is one (else now, and the subject); the key fields are
 * the payload's identifiers and outcome (`KEY_FIELDS`), long values shortened.
 */
export function prettyLine(subject: string, data: Uint8Array, now = new Date()): string {
  const value = bodyValue(data);
  const env = isEnvelope(value) ? value : undefined;
  const time = clock(env && !Number.isNaN(Date.parse(env.time)) ? new Date(env.time) : now);
  const type = env?.type ?? typeFromSubject(subject) ?? subject;
  const payload = env ? env.payload : value;
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    return `${time} ${type} ${shorten(typeof payload === 'string' ? payload : JSON.stringify(payload))}`;
  }
  const record = payload as Record<string, unknown>;
  const fields = KEY_FIELDS.filter((k) => record[k] !== undefined && record[k] !== null).map((k) => `${k}=${show(k, record[k])}`);
  return [time, type, ...fields].join(' ');
}

function isEnvelope(value: unknown): value is { type: string; time: string; payload: unknown } {
  const v = value as Record<string, unknown> | null;
  return !!v && typeof v === 'object' && typeof v.type === 'string' && typeof v.time === 'string' && 'payload' in v;
}

function show(key: string, value: unknown): string {
  if (typeof value === 'string') {
    const text = key === 'commit' || key === 'head' ? value.slice(0, 12) : shorten(value);
    return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
  }
  return shorten(JSON.stringify(value));
}

function shorten(text: string): string {
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

function clock(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
