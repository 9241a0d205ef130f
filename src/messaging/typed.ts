import type { CommandType, EventType, PayloadOf } from '../protocol/index.ts';
import type { MessageScope } from './unit-of-work.ts';

/**
 * Typed producers over a `MessageScope`: the payload's type comes from the message's schema,
 * so a missing or misspelt field is a compile error (the scope still validates at run time).
 */
export function emit<T extends EventType>(scope: MessageScope, type: T, payload: PayloadOf<T>): void {
  scope.emit(type, payload as Record<string, unknown>);
}

export function send<T extends CommandType>(scope: MessageScope, type: T, payload: PayloadOf<T>): void {
  scope.send(type, payload as Record<string, unknown>);
}
