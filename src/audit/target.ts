/**
 * What a command was about, from the fields commands and API answers share: `ticket`,
 * `ticket/task`, `ticket/join`, an agent id, an alert id, a spec id, or a token's name. Null when none is present.
 */
export function auditTarget(fields: Record<string, unknown>): string | null {
  const text = (key: string) => (typeof fields[key] === 'string' || typeof fields[key] === 'number' ? String(fields[key]) : undefined);
  const ticket = text('ticket_id');
  if (ticket !== undefined) {
    const part = text('task_id') ?? text('join_id');
    return part === undefined ? ticket : `${ticket}/${part}`;
  }
  return text('agent_id') ?? text('alert_id') ?? text('spec_id') ?? text('name') ?? null;
}
