// Live events: GET /api/events/stream (Server-Sent Events) read with fetch(), so the token travels in
// the Authorization header, never in a URL (EventSource cannot send headers); GET /api/events polled
// only as a fallback. Every view subscribes with onEvent(); each event reaches it once.
import { Unauthorized, api, getToken, guarded, refused } from './api.js';

const EVENT_POLL_MS = 1000;
/** Waits before reconnecting the event stream, by consecutive failures. */
const STREAM_RETRY_MS = [1000, 2000, 5000];
/** Failures in a row after which the events are polled, and the stream retried now and then. */
const MAX_STREAM_FAILURES = 3;
const STREAM_RETRY_LATER_MS = 30000;
const MAX_SEEN = 2000;

const state = {
  /** The `id` of the newest polled event row (`after=` of the next poll). */
  lastEventId: null,
  eventTimer: null,
  /** The SSE id of the newest streamed event (`Last-Event-ID` of a reconnect). */
  streamId: null,
  streamFailures: 0,
  streamController: null,
  streamTimer: null,
  /** message ids already handed out: a polled and a streamed copy of one event count once. */
  seen: new Set(),
};
const listeners = new Set();
const resetListeners = new Set();
const modeListeners = new Set();

/** `fn(events)` with the new events, oldest first, as `{ message_id, type, payload, time, ticket_id }`; returns an unsubscribe. */
export function onEvents(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** `fn()` when the stream's position was lost: views reload their state. */
export function onReset(fn) {
  resetListeners.add(fn);
  return () => resetListeners.delete(fn);
}

/** `fn(mode)`: 'live', 'reconnecting', 'polling' or ''. */
export function onLiveMode(fn) {
  modeListeners.add(fn);
}

function setLive(mode) {
  for (const l of modeListeners) l(mode);
}

function deliver(all) {
  const events = all.filter((e) => !e.message_id || !state.seen.has(e.message_id));
  if (events.length === 0) return;
  for (const e of events) if (e.message_id) state.seen.add(e.message_id);
  if (state.seen.size > MAX_SEEN) state.seen = new Set([...state.seen].slice(-MAX_SEEN / 2));
  for (const l of listeners) l(events);
}

export function startLive() {
  stopLive();
  state.lastEventId = null;
  state.streamId = null;
  state.streamFailures = 0;
  state.seen.clear();
  openEventStream();
}

export function stopLive() {
  stopEventPolling();
  clearTimeout(state.streamTimer);
  if (state.streamController) state.streamController.abort();
  state.streamController = null;
  setLive('');
}

/** The fallback: GET /api/events every second. */
function startEventPolling() {
  if (state.eventTimer) return;
  const events = async () => {
    await guarded(pollEvents);
    if (getToken() && state.eventTimer) state.eventTimer = setTimeout(events, EVENT_POLL_MS);
  };
  state.eventTimer = setTimeout(events, 0);
}

function stopEventPolling() {
  clearTimeout(state.eventTimer);
  state.eventTimer = null;
}

class StreamRefused extends Error {
  constructor(status, code) {
    super(`event stream refused: ${status} ${code || ''}`);
    this.code = code;
  }
}

/**
 * Follows GET /api/events/stream: on open, one poll fills what came before (or while it was
 * away); then each streamed event is handed out as it comes. When the stream ends or fails it is
 * reopened with Last-Event-ID, after a growing wait; after MAX_STREAM_FAILURES failures in a
 * row (or a node without a feed) the events are polled, and the stream tried again later.
 */
async function openEventStream() {
  clearTimeout(state.streamTimer);
  const token = getToken();
  if (!token) return;
  const controller = new AbortController();
  state.streamController = controller;
  const headers = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
  if (state.streamId !== null) headers['last-event-id'] = state.streamId;
  let refusal = null;
  try {
    const res = await fetch('/api/events/stream', { headers, signal: controller.signal, cache: 'no-store' });
    if (res.status === 401) throw new Unauthorized('the API refused the token');
    if (!res.ok || !res.body) {
      const body = await res.json().catch(() => ({}));
      throw new StreamRefused(res.status, body && body.error && body.error.code);
    }
    state.streamFailures = 0;
    stopEventPolling();
    setLive('live');
    guarded(pollEvents);
    await readEventStream(res.body, onStreamEvent);
  } catch (err) {
    if (controller.signal.aborted) return;
    if (err instanceof Unauthorized) {
      refused();
      return;
    }
    refusal = err;
    state.streamFailures++;
  }
  if (controller.signal.aborted || !getToken()) return;
  const noFeed = refusal instanceof StreamRefused && refusal.code === 'events_unavailable';
  if (noFeed || state.streamFailures >= MAX_STREAM_FAILURES) {
    setLive('polling');
    startEventPolling();
    state.streamTimer = setTimeout(openEventStream, STREAM_RETRY_LATER_MS);
  } else {
    setLive('reconnecting');
    const wait = STREAM_RETRY_MS[Math.min(state.streamFailures, STREAM_RETRY_MS.length - 1)];
    state.streamTimer = setTimeout(openEventStream, wait);
  }
}

/** Reads a text/event-stream body, calling `each({ id, event, data })` per event (comments skipped). */
export async function readEventStream(body, each) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = { id: null, event: 'message', data: null };
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') message.id = value;
        else if (field === 'event') message.event = value;
        else if (field === 'data') message.data = message.data === null ? value : `${message.data}\n${value}`;
      }
      if (message.data !== null) each(message);
    }
  }
}

function onStreamEvent(message) {
  if (message.event === 'reset') {
    // Our position is gone: start over from the newest events (the stream ends, and reopens without one).
    state.streamId = null;
    state.lastEventId = null;
    state.seen.clear();
    for (const l of resetListeners) l();
    return;
  }
  if (message.id !== null) state.streamId = message.id;
  let env;
  try {
    env = JSON.parse(message.data);
  } catch {
    return;
  }
  const payload = env.payload || {};
  deliver([{ message_id: env.id, type: env.type, payload, time: env.time, ticket_id: typeof payload.ticket_id === 'string' ? payload.ticket_id : null }]);
}

async function pollEvents() {
  const query = state.lastEventId === null ? 'tail=1&limit=100' : `after=${state.lastEventId}&limit=500`;
  const { events, next_after: next } = await api(`/api/events?${query}`);
  state.lastEventId = next;
  deliver(events);
}
