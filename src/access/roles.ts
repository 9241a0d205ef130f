/**
 * Roles of the HTTP API, each including the one before it:
 * - `viewer`: every read (tickets, agents, events, cluster, dead letters) and the dashboard;
 * - `operator`: plus the ticket commands (create, cancel, add/complete/fail/cancel/split a
 *   task, resolve a join);
 * - `admin`: plus agents (register, heartbeat, deregister), dead-letter retry/discard, tokens
 *   and the audit log.
 */
export const Role = { viewer: 'viewer', operator: 'operator', admin: 'admin' } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Every role, weakest first. */
export const ROLES: readonly Role[] = [Role.viewer, Role.operator, Role.admin];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Whether a principal with role `have` may do what needs `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}
