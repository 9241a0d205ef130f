import type { Envelope } from '../protocol/index.ts';

/** An event type glob: letters, digits, `_`, `-`, `.` and `*` (any run of characters, dots included). */
export const EVENT_GLOB_PATTERN = /^[A-Za-z0-9_.*-]{1,100}$/;

/** What a subscription listens to: event type globs, and optionally one ticket. */
export interface EventFilter { events: readonly string[]; ticket_id: string | null }

/** Whether `type` matches `glob` (`*` matches any characters; `ticket.*` matches `ticket.created`). */
export function typeMatches(glob: string, type: string): boolean {
  const pattern = glob.split('*').map((part) => part.replace(/[.\-]/g, '\\$&')).join('.*');
  return new RegExp(`^${pattern}$`).test(type);
}

/**
 * Whether the event goes to a subscription with this filter: its type matches one glob, and
 * with a `ticket_id`, the payload is about that ticket (`payload.ticket_id`).
 */
export function filterMatches(filter: EventFilter, env: Pick<Envelope, 'type' | 'payload'>): boolean {
  if (!filter.events.some((glob) => typeMatches(glob, env.type))) return false;
  if (filter.ticket_id === null) return true;
  const payload = env.payload as { ticket_id?: unknown } | null;
  return typeof payload === 'object' && payload !== null && payload.ticket_id === filter.ticket_id;
}
