import { randomBytes } from 'node:crypto';

/** Short random ids for entities created over HTTP without one: readable, unlikely to collide (36^10). */
function randomSuffix(length = 10): string {
  return Array.from(randomBytes(length), (b) => (b % 36).toString(36)).join('');
}

export function newTicketId(): string {
  return `T-${randomSuffix()}`;
}

export function newAgentId(): string {
  return `agent-${randomSuffix()}`;
}

export function newSpecId(): string {
  return `S-${randomSuffix()}`;
}
