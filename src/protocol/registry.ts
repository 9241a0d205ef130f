import type { CommandDef, EventDef, MessageDef } from './define.ts';
import * as agent from './messages/agent.ts';
import * as alert from './messages/alert.ts';
import * as approval from './messages/approval.ts';
import * as budget from './messages/budget.ts';
import * as join from './messages/join.ts';
import * as ownership from './messages/ownership.ts';
import * as spec from './messages/spec.ts';
import * as system from './messages/system.ts';
import * as task from './messages/task.ts';
import * as ticket from './messages/ticket.ts';

function collect(...modules: Record<string, unknown>[]): MessageDef[] {
  const defs: MessageDef[] = [];
  for (const mod of modules) {
    for (const value of Object.values(mod)) {
      if (value && typeof value === 'object' && 'type' in value && 'kind' in value && 'payload' in value) defs.push(value as MessageDef);
    }
  }
  return defs.sort((a, b) => a.type.localeCompare(b.type));
}

/** Every message type of the protocol, in one place: docs, schemas and routing come from here. */
export const REGISTRY: readonly MessageDef[] = collect(ticket, task, join, ownership, agent, alert, approval, budget, system, spec);

const byType = new Map(REGISTRY.map((d) => [d.type, d]));
if (byType.size !== REGISTRY.length) throw new Error('protocol registry: duplicate message type');

export function lookup(type: string): MessageDef | undefined {
  return byType.get(type);
}

export function commands(): CommandDef[] {
  return REGISTRY.filter((d): d is CommandDef => d.kind === 'command');
}

export function events(): EventDef[] {
  return REGISTRY.filter((d): d is EventDef => d.kind === 'event');
}

export const Messages = { ...ticket, ...task, ...join, ...ownership, ...agent, ...alert, ...approval, ...budget, ...system, ...spec };
