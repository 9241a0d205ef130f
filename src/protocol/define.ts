import type { Static, TSchema } from '@sinclair/typebox';

/** Who handles a command: one actor type per command, resolved by entity id inside a partition. */
export const ActorType = {
  TicketActor: 'TicketActor',
  JoinActor: 'JoinActor',
  MergeActor: 'MergeActor',
  OwnershipActor: 'OwnershipActor',
  AgentActor: 'AgentActor',
  AlertActor: 'AlertActor',
  SpecActor: 'SpecActor',
} as const;
export type ActorType = (typeof ActorType)[keyof typeof ActorType];

/** What an entity id names; every command is routed by one of these. */
export const EntityKind = { ticket: 'ticket', agent: 'agent', alert: 'alert', spec: 'spec' } as const;
export type EntityKind = (typeof EntityKind)[keyof typeof EntityKind];

/**
 * A command: an instruction to one entity. Commands travel on partition subjects, are
 * handled by exactly one actor type, and may be published by outside clients on the ingress
 * subject when `ingress` is true.
 */
export interface CommandDef<T extends string = string, S extends TSchema = TSchema> {
  type: T;
  kind: 'command';
  description: string;
  payload: S;
  handledBy: ActorType;
  /** The entity whose partition and actor receive the command. */
  route: (payload: Static<S>) => { entity: EntityKind; id: string };
  /** True when outside clients (nats CLI, remote agents, HTTP) may send it. */
  ingress: boolean;
  example: Static<S>;
}

/**
 * An event: a fact, published on `omoi.evt.<type>` for observers. `consumers` documents who
 * reads it (an internal handler or an external consumer such as the dashboard or `nats sub`).
 */
export interface EventDef<T extends string = string, S extends TSchema = TSchema> {
  type: T;
  kind: 'event';
  description: string;
  payload: S;
  consumers: string[];
  example: Static<S>;
}

export type MessageDef = CommandDef | EventDef;

export function command<T extends string, S extends TSchema>(def: Omit<CommandDef<T, S>, 'kind'>): CommandDef<T, S> {
  return { ...def, kind: 'command' };
}

export function event<T extends string, S extends TSchema>(def: Omit<EventDef<T, S>, 'kind'>): EventDef<T, S> {
  return { ...def, kind: 'event' };
}

/** Observers documented for every public event. */
export const OBSERVERS = ['dashboard (src/http)', '`omoi sub` / `nats sub omoi.evt.>`'];
