import type { Static, TSchema } from '@sinclair/typebox';
import type * as agent from './messages/agent.ts';
import type * as alert from './messages/alert.ts';
import type * as approval from './messages/approval.ts';
import type * as budget from './messages/budget.ts';
import type * as join from './messages/join.ts';
import type * as ownership from './messages/ownership.ts';
import type * as spec from './messages/spec.ts';
import type * as system from './messages/system.ts';
import type * as task from './messages/task.ts';
import type * as ticket from './messages/ticket.ts';

type Module = typeof ticket & typeof task & typeof join & typeof ownership & typeof agent & typeof alert & typeof approval & typeof budget & typeof system & typeof spec;
/** Every message definition of the protocol, as a union of their precise types. */
type AnyDef = Extract<Module[keyof Module], { type: string; kind: 'command' | 'event'; payload: TSchema }>;

/** Every message type of the protocol (`'task.complete'`, `'ticket.created'`, …). */
export type MessageType = AnyDef['type'];
export type CommandType = Extract<AnyDef, { kind: 'command' }>['type'];
export type EventType = Extract<AnyDef, { kind: 'event' }>['type'];

/**
 * The payload of a message type, derived from its TypeBox schema: the shape a handler gets
 * after the codec validated it (defaults filled), and the shape a sender must produce.
 */
export type PayloadOf<T extends MessageType> = Static<Extract<AnyDef, { type: T }>['payload']>;
