/**
 * The subject scheme. All subjects start with `omoi.`:
 * - `omoi.in.<type>`       ingress: commands from outside (nats CLI, remote agents, HTTP)
 * - `omoi.part.<n>.<type>` the durable log of partition n (commands routed to its entities)
 * - `omoi.evt.<type>`      domain events, for observers
 * - `omoi.errors.<code>`   rejected input and dead letters, for observers
 * - `omoi.agent.<id>.assign` task assignments for a remote agent
 * - `omoi.agent.<id>.stop`   attempts it must stop; `omoi.agent.<id>.control` drain, undrain, shutdown, broadcast
 * - `omoi.log.<ticket>.<task>.<attempt>` output of a running task attempt (core NATS, nodes only)
 * - `omoi.log.tail`        request: the end of an attempt's output, answered by the node that has it
 */
export const Subjects = {
  ingress: (type: string) => `omoi.in.${type}`,
  partition: (partition: number, type: string) => `omoi.part.${partition}.${type}`,
  event: (type: string) => `omoi.evt.${type}`,
  error: (code: string) => `omoi.errors.${code}`,
  agentAssignments: (agentId: string) => `omoi.agent.${agentId}.assign`,
  /** Attempts of an agent that ended without its report (cancelled, expired): stop working on them. */
  agentStops: (agentId: string) => `omoi.agent.${agentId}.stop`,
  /** Controls of an agent: drain, undrain, shutdown, broadcast (`AgentControl` of messages/agent.ts). */
  agentControls: (agentId: string) => `omoi.agent.${agentId}.control`,
  /** Everything for one agent (its assignments, stops and controls). */
  agentAll: (agentId: string) => `omoi.agent.${agentId}.>`,
  /**
   * Output chunks of one task attempt as its node's executor reads them (core NATS, not stored:
   * a node's dashboard follows a task run elsewhere). Ids may hold `.`: written as `~` here.
   */
  taskOutput: (ticketId: string, taskId: string, attempt: number) => `omoi.log.${ticketId.replaceAll('.', '~')}.${taskId.replaceAll('.', '~')}.${attempt}`,
  /** Requests for the end of an attempt's output; only the node that holds its log answers. */
  taskOutputTail: 'omoi.log.tail',
  ingressAll: 'omoi.in.>',
  partitionAll: 'omoi.part.>',
  partitionFilter: (partition: number) => `omoi.part.${partition}.>`,
  eventsAll: 'omoi.evt.>',
  errorsAll: 'omoi.errors.>',
} as const;

export const Streams = {
  ingress: 'OMOI_IN',
  partitions: 'OMOI_PART',
  events: 'OMOI_EVT',
} as const;

/** Message type carried by an ingress or partition subject. */
export function typeFromSubject(subject: string): string | undefined {
  const parts = subject.split('.');
  if (parts[0] !== 'omoi') return undefined;
  if (parts[1] === 'in') return parts.slice(2).join('.') || undefined;
  if (parts[1] === 'part') return parts.slice(3).join('.') || undefined;
  if (parts[1] === 'evt') return parts.slice(2).join('.') || undefined;
  return undefined;
}

/** FNV-1a: stable across nodes and releases, so every node agrees where an entity lives. */
export function partitionOf(entity: string, id: string, partitions: number): number {
  const key = `${entity}:${id}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}
