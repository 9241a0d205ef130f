import { Type } from '@sinclair/typebox';
import { ActorType, OBSERVERS, command, event } from '../define.ts';
import { Budget, Id, Sha } from './common.ts';

const route = (p: { agent_id: string }) => ({ entity: 'agent' as const, id: p.agent_id });
const AgentRef = { agent_id: Id };
const Capabilities = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 });

export const AgentRegister = command({
  type: 'agent.register',
  description: 'Register an agent (phase, capabilities, version). Remote agents must send a first heartbeat within the registration timeout. On `omoi.in` a new remote agent must carry its ed25519 `public_key` (PEM) and sign the message with it (see Signing). A registration outside the compatibility checks is refused with a code naming the check: `unsupported_protocol`, `incompatible_version`, `checksum_mismatch`, `insufficient_disk` (README: Agents). Registering an existing agent again with another `kind` is refused (`agent_exists`), and with another `public_key` too unless signed by its current key (a key rotation) or the agent was removed (deregistered or timed out).',
  handledBy: ActorType.AgentActor,
  ingress: true,
  route,
  payload: Type.Object(
    {
      ...AgentRef,
      name: Type.String({ minLength: 1, maxLength: 200 }),
      phase: Type.String({ minLength: 1, maxLength: 50 }),
      capabilities: Capabilities,
      version: Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+([-+].*)?$', description: 'semver of the agent' }),
      kind: Type.Union([Type.Literal('local'), Type.Literal('remote')], { default: 'remote' }),
      public_key: Type.Optional(Type.String({ maxLength: 2000 })),
      capacity: Type.Integer({ minimum: 1, maximum: 1000, default: 1 }),
      budget: Type.Optional(Budget),
      protocol_version: Type.Optional(Type.Integer({ minimum: 1, maximum: 9999, description: 'The protocol version the agent speaks (default: the cluster\'s). Another one is refused (`unsupported_protocol`); the agent\'s `version` must be in the range the config\'s `agent_compatibility` gives for it (`incompatible_version`).' })),
      command_sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'A local agent\'s: sha256 of its agent command\'s binary, checked against `OMOI_AGENT_COMMAND_SHA256` when set (`checksum_mismatch`).' })),
      resources: Type.Optional(Type.Object({
        disk_free_bytes: Type.Optional(Type.Integer({ minimum: 0, description: 'Free disk for sandboxes; below capacity × `OMOI_AGENT_MIN_DISK_PER_SLOT_MB` the registration is refused (`insufficient_disk`).' })),
      }, { additionalProperties: false })),
    },
    { additionalProperties: false },
  ),
  example: { agent_id: 'agent-7', name: 'coder-7', phase: 'execute', capabilities: ['typescript', 'git'], version: '1.2.0', kind: 'remote', capacity: 1, protocol_version: 1, resources: { disk_free_bytes: 53687091200 } },
});

export const AgentRotateKey = command({
  type: 'agent.rotate_key',
  description: 'Replace a remote agent\'s public key (ed25519, PEM). On `omoi.in` it must be signed by the current key; `POST /api/agents/<id>/rotate-key` (admin) makes a new pair and sends it. An `agent.status` event (reason `public key rotated`) tells; from then on only the new key signs.',
  handledBy: ActorType.AgentActor,
  ingress: true,
  route,
  payload: Type.Object({ ...AgentRef, public_key: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false }),
  example: { agent_id: 'agent-7', public_key: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA…\n-----END PUBLIC KEY-----\n' },
});

export const AgentHeartbeat = command({
  type: 'agent.heartbeat',
  description: 'An agent is alive. Missed heartbeats make it degraded, then failed; its tasks go back to the queue.',
  handledBy: ActorType.AgentActor,
  ingress: true,
  route,
  payload: Type.Object({ ...AgentRef }, { additionalProperties: false }),
  example: { agent_id: 'agent-7' },
});

export const AgentDeregister = command({
  type: 'agent.deregister',
  description: 'Remove an agent; its running tasks return to the queue.',
  handledBy: ActorType.AgentActor,
  ingress: true,
  route,
  payload: Type.Object({ ...AgentRef, reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }),
  example: { agent_id: 'agent-7', reason: 'shutting down' },
});

const DrainPayload = Type.Object({ ...AgentRef, reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false });

export const AgentDrain = command({
  type: 'agent.drain',
  description: 'Drain an agent (the scheduler side of taking it out of service): it finishes the attempts it runs and is offered no new ones (`draining` in `GET /api/agents`; a matching task goes to another agent, or waits). An `agent.status` event with `draining: true` tells. The flag outlives heartbeats, failures and re-registration, until `agent.undrain`. Draining twice changes nothing; a removed agent is refused (`agent_removed`).',
  handledBy: ActorType.AgentActor,
  ingress: true,
  route,
  payload: DrainPayload,
  example: { agent_id: 'agent-7', reason: 'host maintenance at 18:00' },
});

export const AgentUndrain = command({
  type: 'agent.undrain',
  description: 'End an agent\'s drain: it is offered tasks again (ready tasks waiting for it are picked up by the next scheduling sweep). An `agent.status` event with `draining: false` tells. Undraining an agent that is not draining changes nothing; a removed agent is refused (`agent_removed`).',
  handledBy: ActorType.AgentActor,
  ingress: true,
  route,
  payload: DrainPayload,
  example: { agent_id: 'agent-7' },
});

export const AgentShutdown = command({
  type: 'agent.shutdown',
  description: 'Shut an agent down: it is drained (offered nothing new), told so on `omoi.agent.<id>.control` (kind `shutdown`, to acknowledge with `agent.control_acknowledged`), and once its running attempts end it is removed with reason `shutdown` (at once when it runs nothing; also when it deregisters first). A node\'s own agent obeys it too: it stays removed until its node restarts (the node registers it anew, not draining). Shutting down twice changes nothing; a removed agent is refused (`agent_removed`).',
  handledBy: ActorType.AgentActor,
  ingress: true,
  route,
  payload: DrainPayload,
  example: { agent_id: 'agent-7', reason: 'host retired' },
});

export const AgentBroadcast = command({
  type: 'agent.broadcast',
  description: 'One agent\'s share of an operator\'s broadcast (`POST /api/agents/broadcast`, `omoi agents broadcast`, which send it to every agent that is not removed, all with the same `control_id`): the agent gets `message` on `omoi.agent.<id>.control` (kind `broadcast`, no acknowledgement asked). A removed agent is refused (`agent_removed`); the same `control_id` twice is sent once.',
  handledBy: ActorType.AgentActor,
  ingress: true,
  route,
  payload: Type.Object({
    ...AgentRef,
    control_id: Type.String({ minLength: 1, maxLength: 200, description: 'the broadcast\'s id, the same for every agent it went to' }),
    message: Type.String({ minLength: 1, maxLength: 2000 }),
  }, { additionalProperties: false }),
  example: { agent_id: 'agent-7', control_id: 'b-2026-12-04-1', message: 'cluster upgrade at 18:00: finish what you run' },
});

/** What an agent receives on `omoi.agent.<id>.control` (a bare payload, stored in OMOI_EVT like its assignments). */
export const AgentControl = Type.Object({
  agent_id: Id,
  kind: Type.Union([Type.Literal('drain'), Type.Literal('undrain'), Type.Literal('shutdown'), Type.Literal('broadcast')]),
  control_id: Type.String({ description: 'acknowledge with this id' }),
  ack: Type.Boolean({ description: 'true (drain, shutdown): acknowledge it with `agent.control_acknowledged`' }),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String({ description: 'a broadcast\'s text' })),
  sent_by: Type.Optional(Type.String({ description: 'the source of the command (a principal, a node)' })),
}, { additionalProperties: false, $id: 'AgentControl' });

export const AgentControlAcknowledged = command({
  type: 'agent.control_acknowledged',
  description: 'An agent acknowledges a control it received on `omoi.agent.<id>.control` that asked for it (`ack: true`: drain, shutdown) by its `control_id`. Until then the control is `awaiting_ack` in the agent\'s `controls` (`GET /api/agents/<id>`); one not acknowledged within `OMOI_STOP_ACK_TIMEOUT_MS` is marked `overdue` with an `agent.control_overdue` event (a later acknowledgement still counts). On `omoi.in` it must be signed by the agent (see Signing); an unknown or already acknowledged id changes nothing.',
  handledBy: ActorType.AgentActor,
  ingress: true,
  route,
  payload: Type.Object({ ...AgentRef, control_id: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
  example: { agent_id: 'agent-7', control_id: 'drain-agent-7-1' },
});

export const AgentControlOverdue = event({
  type: 'agent.control_overdue',
  description: 'A drain or shutdown sent to a remote agent was not acknowledged within `OMOI_STOP_ACK_TIMEOUT_MS`: the agent may not have heard it (a person should look). The drain still holds on the scheduler\'s side; a shutdown still removes the agent once its attempts end.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...AgentRef, control_id: Type.String(), kind: Type.String(), waited_ms: Type.Integer({ minimum: 0 }) }),
  example: { agent_id: 'agent-7', control_id: 'drain-agent-7-1', kind: 'drain', waited_ms: 60012 },
});

export const AgentAssign = command({
  type: 'agent.assign',
  description: 'Internal: a ticket offers a task attempt to an agent (sent to the agent\'s partition). Local agents run it; remote agents receive it on `omoi.agent.<id>.assign`.',
  handledBy: ActorType.AgentActor,
  ingress: false,
  route,
  payload: Type.Object({
    ...AgentRef,
    ticket_id: Id,
    task_id: Id,
    attempt: Type.Integer({ minimum: 1 }),
    base: Sha,
    branch: Type.String(),
    kind: Type.String(),
    run: Type.String(),
    owns: Type.Array(Type.String()),
    timeout_ms: Type.Integer(),
    context: Type.Unknown(),
    ownership: Type.Optional(Type.Union([Type.Literal('strict'), Type.Literal('lenient')])),
    repository: Type.Optional(Type.String({ description: 'the ticket\'s repository (URL or path): where the base commit comes from when it is not an Omoi commit' })),
    network: Type.Optional(Type.Boolean({ description: 'false: run the attempt with no network (the ticket asked for it); absent: the network is allowed' })),
    check: Type.Optional(Type.String({ description: 'the task\'s check: once `run` succeeded, the agent runs it in the same sandbox (same isolation, network rule and environment, within `timeout_ms` in all) and reports `task.complete` with `check` if it exits 0, else `task.fail` with `reason: check_failed` and `check` (exit code, the end of its output)' })),
  }),
  example: { agent_id: 'agent-7', ticket_id: 'T1', task_id: 'B', attempt: 1, base: '0123456789abcdef0123456789abcdef01234567', branch: 'omoi/T1/B', kind: 'command', run: 'make x', owns: ['src/x/**'], timeout_ms: 600000, context: {}, repository: 'https://git.example.com/org/app.git' },
});

export const AgentTaskEnded = command({
  type: 'agent.task_ended',
  description: 'Internal: the ticket tells the agent an assigned attempt ended (completed, failed, cancelled) so it frees capacity.',
  handledBy: ActorType.AgentActor,
  ingress: false,
  route,
  payload: Type.Object({
    ...AgentRef, ticket_id: Id, task_id: Id, attempt: Type.Integer({ minimum: 1 }),
    stop: Type.Optional(Type.Boolean({ description: 'The attempt ended without its agent reporting it (cancelled, expired): the agent is told on `omoi.agent.<id>.stop` to stop working on it.' })),
  }),
  example: { agent_id: 'agent-7', ticket_id: 'T1', task_id: 'B', attempt: 1, stop: true },
});

export const AgentStopAcknowledged = command({
  type: 'agent.stop_acknowledged',
  description: 'A remote agent acknowledges a stop it received on `omoi.agent.<id>.stop` (the attempt was cancelled or expired): it stopped working on it. Until then the attempt keeps one of the agent\'s slots and the stop is listed as pending (`stopping` in `GET /api/agents`); a stop not acknowledged within `OMOI_STOP_ACK_TIMEOUT_MS` frees the slot anyway, with an `agent.stopped` event (`unacknowledged`). On `omoi.in` it must be signed by the agent (see Signing); an acknowledgement of a stop that is not pending changes nothing.',
  handledBy: ActorType.AgentActor,
  ingress: true,
  route,
  payload: Type.Object({ ...AgentRef, ticket_id: Id, task_id: Id, attempt: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
  example: { agent_id: 'agent-7', ticket_id: 'T1', task_id: 'B', attempt: 1 },
});

export const AgentStopped = event({
  type: 'agent.stopped',
  description: 'A stop sent to a remote agent ended: `acknowledged` by the agent, or `unacknowledged` after `OMOI_STOP_ACK_TIMEOUT_MS` (the agent may still be working on it: a person should look; its health is left to its heartbeats). Either way its slot is free again.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...AgentRef, ticket_id: Id, task_id: Id, attempt: Type.Integer({ minimum: 1 }), outcome: Type.Union([Type.Literal('acknowledged'), Type.Literal('unacknowledged')]), waited_ms: Type.Integer({ minimum: 0 }) }),
  example: { agent_id: 'agent-7', ticket_id: 'T1', task_id: 'B', attempt: 1, outcome: 'acknowledged', waited_ms: 180 },
});

export const AgentCheck = command({
  type: 'agent.check',
  description: 'Internal (heartbeat supervision timer of the node holding the agent\'s partition): compare the last heartbeat with the timeouts; registered without heartbeat → removed, missed heartbeats → degraded → failed (its tasks go back to the queue); stops not acknowledged within `OMOI_STOP_ACK_TIMEOUT_MS` free their slots (`agent.stopped` `unacknowledged`).',
  handledBy: ActorType.AgentActor,
  ingress: false,
  route,
  payload: Type.Object({ ...AgentRef }, { additionalProperties: false }),
  example: { agent_id: 'agent-7' },
});

export const AgentWake = command({
  type: 'agent.wake',
  description: 'Internal (recovery): a node acquired the agent\'s partition; attempts a local agent was running in a process that is gone are failed (`agent_lost`) so their tickets retry them.',
  handledBy: ActorType.AgentActor,
  ingress: false,
  route,
  payload: Type.Object({ ...AgentRef, live: Type.Array(Type.String(), { description: 'attempts (`<ticket>/<task>/<attempt>`) still executing on the waking node' }) }, { additionalProperties: false }),
  example: { agent_id: 'local-node-1', live: [] },
});

export const AgentStatusChanged = event({
  type: 'agent.status',
  description: 'An agent changed state: registered, healthy, degraded, failed, restarting, removed (with reason; `shutdown` after `agent.shutdown`). An event with `draining` tells of a drain (`agent.drain`, `agent.shutdown`: true) or its end (`agent.undrain`: false); its `status` is the agent\'s unchanged health.',
  consumers: OBSERVERS,
  payload: Type.Object({
    ...AgentRef, status: Type.String(), reason: Type.Optional(Type.String()), restarts: Type.Optional(Type.Integer()),
    draining: Type.Optional(Type.Boolean({ description: 'present only when the drain changed: the agent now drains (true) or is offered tasks again (false)' })),
  }),
  example: { agent_id: 'agent-7', status: 'degraded', reason: 'no heartbeat for 30000 ms' },
});

export const AgentMismatch = event({
  type: 'agent.mismatch',
  description: 'No registered agent can take a task: what each candidate lacked (phase, capabilities).',
  consumers: OBSERVERS,
  payload: Type.Object({ ticket_id: Id, task_id: Id, phase: Type.String(), required: Capabilities, candidates: Type.Array(Type.Object({ agent_id: Type.String(), missing: Type.Array(Type.String()) })) }),
  example: { ticket_id: 'T1', task_id: 'B', phase: 'execute', required: ['rust'], candidates: [{ agent_id: 'agent-7', missing: ['rust'] }] },
});

export { Sha };
