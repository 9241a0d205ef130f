import type { Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ProtocolError } from './codec.ts';
import { AgentControl } from './messages/agent.ts';

/** What an agent receives on `omoi.agent.<id>.control`. */
export type AgentControlMessage = Static<typeof AgentControl>;

const check = TypeCompiler.Compile(AgentControl);

/** A control read off an agent's control subject, checked against its schema (`schema_violation` if it is not one). */
export function agentControlOf(value: unknown): AgentControlMessage {
  if (check.Check(value)) return value;
  const err = check.Errors(value).First();
  const path = err?.path || '/';
  throw new ProtocolError('schema_violation', `${path}: ${err?.message ?? 'not an agent control'}`, path);
}
