import { fileURLToPath } from 'node:url';
import { MAX_ID_LENGTH } from '../ids.ts';
import { GIT_BUCKET } from '../messaging/git-bucket.ts';
import { ALERT_TRIGGER_CONSUMERS } from '../messaging/streams.ts';
import { WEBHOOK_DELIVERY_CONSUMER } from '../webhooks/event-consumer.ts';
import { MEMORY_INDEX_CONSUMER } from '../memory/memory-indexer.ts';
import type { TaskMemory } from '../memory/task-recall.ts';
import { SIGNING_EXAMPLES } from './signing-examples.ts';
import { TASK_ENDPOINTS, TaskApiEnv } from '../task-api/index.ts';
import {
  AgentControl,
  commands,
  Envelope,
  events,
  makeEnvelope,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  SIGNATURE_CONTEXT,
  SIGNED_AGENT_TYPES,
  Streams,
  Subjects,
  type CommandDef,
  type EventDef,
  type MessageDef,
} from '../protocol/index.ts';

/** Where the generated document lives in the repository. */
/** `context.memory` of a task, as the protocol doc shows it. */
const MEMORY_EXAMPLE: TaskMemory = {
  results: [{
    kind: 'task_result', ticket_id: 'T0', task_id: 'B', join_id: null, title: 'add the parser for config files — make parser',
    excerpt: '{"summary":"added src/config/parser.ts with tests"}', files: ['src/config/**'], at: '2026-01-01T12:00:00.000Z',
  }],
  conflicts: [{
    file: 'src/config/parser.ts', ticket_id: 'T0', join_id: 'join-D', source: 'C', resolved_by: 'resolver',
    commit: '0123456789abcdef0123456789abcdef01234567', at: '2026-01-01T12:00:00.000Z',
  }],
};

export const PROTOCOL_DOC_PATH = fileURLToPath(new URL('../../docs/protocol.md', import.meta.url));

/**
 * Codes of the `error.rejected` events the edge itself produces, with what they mean. The
 * codec's codes are checked against the real codec by `test/cli/protocol-doc.test.ts`.
 */
export const INPUT_ERROR_CODES: ReadonlyArray<{ code: string; meaning: string }> = [
  { code: 'payload_too_large', meaning: `the body is larger than ${MAX_MESSAGE_BYTES} bytes` },
  { code: 'malformed_json', meaning: 'the body is not JSON' },
  { code: 'invalid_envelope', meaning: 'the body looks like an envelope (has `type` and `payload`) but does not match the envelope schema' },
  { code: 'unknown_type', meaning: 'the type is not in the registry, or is a command outside clients may not send' },
  { code: 'schema_violation', meaning: 'the payload does not match the type\'s JSON Schema (the reason starts with the JSON pointer of the field)' },
  { code: 'max_deliver_exceeded', meaning: 'a valid message failed on every one of its deliveries (`OMOI_MAX_DELIVER`)' },
  { code: 'handler_error', meaning: 'a handler failed with an unexpected error' },
  { code: 'bad_signature', meaning: 'a remote agent\'s message is not signed by that agent (see [Signing](#signing)): a header missing, an unknown agent or one without a key, another key\'s signature, `Omoi-Agent` not the payload\'s `agent_id`, or an envelope `id` that is not the `Nats-Msg-Id`' },
  { code: 'replayed', meaning: 'a signed message whose `Omoi-Time` is more than `OMOI_SIGNATURE_MAX_AGE_MS` (default 5 minutes) from the node\'s clock, or whose message id that agent already used' },
  { code: 'wrong_agent', meaning: 'a signed `task.started`, `task.progress`, `task.complete`, `task.fail`, `task.agent_add` or `task.agent_split` names an attempt assigned to another agent (the task is left as it was)' },
  { code: 'not_running', meaning: 'a `task.agent_add` or `task.agent_split` names an attempt that is not its task\'s live one (the task is left as it was)' },
];

/**
 * Subjects a type travels on besides the standard ones (see `subjectsOf`). These are the
 * places where the code publishes on another subject than `Subjects.event(type)`.
 */
const EXTRA_SUBJECTS: Record<string, { subjects: string[]; replacesEvent?: boolean }> = {
  // Rejections publish on `omoi.errors.<code>` (src/messaging/rejections.ts), not on omoi.evt.
  'error.rejected': { subjects: [Subjects.error('<code>')], replacesEvent: true },
  'agent.assign': { subjects: [Subjects.agentAssignments('<agent_id>')] },
};

/** What each trigger event does (src/alerts/triggers.ts; its test checks the same mapping). */
export const TRIGGER_DOC: ReadonlyArray<[event: string, raises: string, clears: string]> = [
  ['error.rejected', 'with a `dead_letter_id`: `dead_letter` (`dead_letter:<code>`)', '–'],
  ['dead_letter.closed', '–', '`dead_letter:<code>` when `open_with_code` is 0'],
  ['agent.status', '`degraded`: `agent_degraded:<agent>`; `failed`: `agent_failed:<agent>`; nothing for a drain (`draining` present)', '`healthy`, `removed`: both; `failed`: the degraded one'],
  ['task.status', '`blocked`: `task_blocked:<ticket>/<task>`', 'any other status: that; every status: `task_stalled:<ticket>/<task>`, `ticket_stalled:<ticket>`'],
  ['join.status', '`blocked` naming `files`: `merge_unresolved:<ticket>/<join>`', '`merged`: that'],
  ['ticket.ended', '`failed`: `ticket_failed:<ticket>`', '`ticket_stalled:<ticket>`'],
  ['ticket.resumed', '–', '`ticket_failed:<ticket>`'],
  ['ticket.completed', '–', '`ticket_stalled:<ticket>`'],
  ['ticket.delivery_failed', '`delivery_failed:<ticket>`', '–'],
  ['ticket.delivered', '–', '`delivery_failed:<ticket>`'],
  ['actor.supervision', '`escalated`: `actor_escalated:<actor>/<entity>`', '–'],
  ['budget.warning', '`budget_warning:<scope>/<id>`', '–'],
  ['budget.exceeded', '`budget_exceeded:<scope>/<id>`', '–'],
  ['budget.changed', '–', 'not `exceeded`: `budget_warning:` and `budget_exceeded:<scope>/<id>`'],
  ['task.stalled', '`task_stalled:<ticket>/<task>`', '–'],
  ['ticket.stalled', '`ticket_stalled:<ticket>`', '–'],
  ['node.lost', '`node_lost:<node>`', '–'],
  ['node.status', '–', '`started`: `node_lost:<node>`'],
  ['breaker.state', '`open`: `circuit_open:<node>/<breaker>/<key>`', '`closed`: that'],
];

/** A fixed time and id so the generated document is the same on every run. */
const EXAMPLE_TIME = new Date('2026-01-01T12:00:00.000Z');

/**
 * Renders `docs/protocol.md` from the protocol registry (`src/protocol/`): the envelope, the
 * subject scheme, the streams, how outside input is accepted and rejected, then every
 * message type with its subjects, handler or consumers, JSON Schema and a `nats` example.
 * Pure and deterministic: the same registry always yields the same text.
 */
export function generateProtocolDoc(): string {
  const out: string[] = [];
  const cmds = commands();
  const evts = events();

  out.push(
    '# Omoi protocol',
    '',
    '<!-- Generated from the protocol registry (src/protocol/) by `omoi docs`. Do not edit by hand:',
    '     test/cli/protocol-doc.test.ts fails when this file differs from a fresh generation. -->',
    '',
    'Every message of Omoi travels on NATS as JSON. This document lists every message type with',
    'its subject, its JSON Schema and an example you can send with the',
    '[`nats` CLI](https://github.com/nats-io/natscli) or `omoi pub`, or watch with `nats sub` / `omoi sub`.',
    '',
    '## Contents',
    '',
    '- [Envelope](#envelope)',
    '- [Subjects](#subjects)',
    '- [Streams](#streams)',
    '- [Alerts](#alerts)',
    '- [Webhooks](#webhooks)',
    '- [Approvals and delivery](#approvals-and-delivery)',
    '- [Sending commands from outside](#sending-commands-from-outside)',
    '- [Remote agents](#remote-agents)',
    '  - [Signing](#signing)',
    '- [Task API](#task-api)',
    '- [Task context and memory](#task-context-and-memory)',
    '- [Errors](#errors)',
    '- [Commands](#commands)',
    ...cmds.map((d) => `  - [\`${d.type}\`](#${anchor(d.type)})`),
    '- [Events](#events)',
    ...evts.map((d) => `  - [\`${d.type}\`](#${anchor(d.type)})`),
    '',
  );

  const sample = makeEnvelope('ticket.cancel', { ticket_id: 'T1', reason: 'superseded' }, { source: 'node-a', id: '6f1c2d3e-0000-4000-8000-000000000001', time: EXAMPLE_TIME });
  out.push(
    '## Envelope',
    '',
    `Every message on a partition, event or error subject is an envelope (protocol version ${PROTOCOL_VERSION}).`,
    '`id` is the idempotency key (also sent as the `Nats-Msg-Id` header); `causation_id` is the id of',
    'the message that caused this one; `correlation_id` is the id of the first message of the flow',
    '(typically the ticket\'s creation). `payload` is validated against the schema of `type`.',
    `A message body may be at most ${MAX_MESSAGE_BYTES} bytes.`,
    '',
    `Ticket, task and agent ids (\`ticket_id\`, \`task_id\`, \`agent_id\`, a task's \`id\`) become git branch names,`,
    'path segments and subject tokens, so they are checked at the edge: at most',
    `${MAX_ID_LENGTH} characters, a letter or digit first, then letters, digits, \`_\`, \`-\`, and \`.\` when not`,
    'followed by another `.` or the end; never ending in `.lock`. No `:`, `/`, spaces or control',
    'characters. Anything else is refused as `schema_violation` naming the field.',
    '',
    json(Envelope),
    '',
    'Example:',
    '',
    json(sample),
    '',
  );

  out.push(
    '## Subjects',
    '',
    'All subjects start with `omoi.`; `<type>` is a message type such as `ticket.create`.',
    '',
    '| Subject | Carries |',
    '| --- | --- |',
    `| \`${Subjects.ingress('<type>')}\` | commands from outside clients (\`nats pub\`, remote agents, HTTP, \`omoi pub\`) |`,
    `| \`${Subjects.partition(0, '<type>').replace('.0.', '.<n>.')}\` | the durable log of partition \`<n>\`: commands routed to the entities of that partition |`,
    `| \`${Subjects.event('<type>')}\` | domain events, for observers |`,
    `| \`${Subjects.error('<code>')}\` | rejected input and dead letters (\`error.rejected\`) |`,
    `| \`${Subjects.agentAssignments('<agent_id>')}\` | task assignments for an agent, stored in \`${Streams.events}\` (see [Remote agents](#remote-agents)) |`,
    `| \`${Subjects.agentStops('<agent_id>')}\` | attempts an agent must stop (cancelled, expired): \`agent_id\`, \`ticket_id\`, \`task_id\`, \`attempt\` |`,
    `| \`${Subjects.agentControls('<agent_id>')}\` | controls of an agent, stored in \`${Streams.events}\`: \`drain\`, \`undrain\`, \`shutdown\`, \`broadcast\` (schema in [Remote agents](#remote-agents), step 7) |`,
    `| \`${Subjects.taskOutput('<ticket>', '<task>', 0).replace(/\.0$/, '.<attempt>')}\` | nodes only, core NATS (not stored): what a running attempt's command prints, as its node's executor reads it (\`{offset, text, skipped?}\`, whole lines, at most 64 KiB a message; \`done: true\` last; a \`.\` in an id is written \`~\`) |`,
    `| \`${Subjects.taskOutputTail}\` | nodes only, request/reply: \`{ticket_id, task_id, attempt, bytes}\` → \`{node_id, size, text, truncated}\`, the end (at most 64 KiB) of an attempt's output, answered only by the node that holds its log |`,
    '',
    'An entity (a ticket with its tasks, joins and merges; an agent; an alert, by its fingerprint) lives in one partition:',
    '`FNV-1a("<entity>:<id>") mod <partitions>`, so every node agrees where it is.',
    '',
    'Watch everything that happens: `nats sub \'omoi.evt.>\'` and `nats sub \'omoi.errors.>\'`',
    '(or `omoi sub \'omoi.evt.>\' --pretty`).',
    '',
  );

  out.push(
    '## Streams',
    '',
    'JetStream streams (file storage), created or updated by every node at start:',
    '',
    '| Stream | Subjects | Retention |',
    '| --- | --- | --- |',
    `| \`${Streams.ingress}\` | \`${Subjects.ingressAll}\` | work queue: one durable consumer shared by every node validates and routes each command, then acks it; at most \`OMOI_STREAM_MAX_BYTES\` (1 GiB), a publish refused when full |`,
    `| \`${Streams.partitions}\` | \`${Subjects.partitionAll}\` | work queue: one durable pull consumer per partition, pulled by the node holding that partition's lease; acked after commit; at most \`OMOI_STREAM_MAX_BYTES\` (1 GiB), a publish refused when full, never an unacked message dropped |`,
    `| \`${Streams.events}\` | \`${Subjects.eventsAll}\`, \`${Subjects.errorsAll}\`, \`omoi.agent.>\` | history for observers (limits: 7 days, 1 GiB, oldest discarded first); the durable consumers \`${ALERT_TRIGGER_CONSUMERS.events}\` and \`${ALERT_TRIGGER_CONSUMERS.errors}\`, shared by every node, map each event to alerts once (see [Alerts](#alerts)); \`${WEBHOOK_DELIVERY_CONSUMER}\` records each event once per matching webhook subscription (see [Webhooks](#webhooks)); \`${MEMORY_INDEX_CONSUMER}\` indexes task results, failures and merge resolutions once each (see [Task context and memory](#task-context-and-memory)) |`,
    '',
    'Every stream has a duplicate window: a message published again with the same `Nats-Msg-Id`',
    'inside it is stored once.',
    '',
    `Commits travel between nodes through the JetStream object store \`${GIT_BUCKET}\` (stream`,
    `\`OBJ_${GIT_BUCKET}\`, subjects \`$O.${GIT_BUCKET}.C.>\` and \`$O.${GIT_BUCKET}.M.>\`): one git bundle per commit Omoi made,`,
    'named `<ticket>/<commit>`, holding what the commit adds over the commits listed in its',
    '`requires` metadata (a task\'s base; a merge\'s sources and base). A node saves it before the',
    'message announcing the commit (`task.complete`, `merge.finished`, `ticket.finalize`) is published.',
    '',
    '```sh',
    `nats object ls ${GIT_BUCKET}                                   # every saved commit`,
    `nats object get ${GIT_BUCKET} T1/<commit> -O t1.bundle && git fetch t1.bundle   # into a clone that has its requires`,
    '```',
    '',
  );

  out.push(
    '## Alerts',
    '',
    'Alerts are raised from the events above, not published by hand: the durable consumers',
    `\`${ALERT_TRIGGER_CONSUMERS.events}\` (on \`${Subjects.eventsAll}\`) and \`${ALERT_TRIGGER_CONSUMERS.errors}\` (on \`${Subjects.errorsAll}\`) map each event once,`,
    'cluster-wide, to `alert.raise` / `alert.clear` commands (ids derived from the event\'s id, so a',
    'redelivered event counts once), handled by the AlertActor of the alert\'s fingerprint:',
    '',
    '| Event | Raises (fingerprint) | Clears |',
    '| --- | --- | --- |',
    ...TRIGGER_DOC.map(([event, raises, clears]) => `| \`${event}\` | ${raises} | ${clears} |`),
    '',
    'An event of another type is ignored; a malformed one is logged and dropped. The alerts\' own',
    'failures (an `AlertActor` escalated, an `alert.*` command dead-lettered) raise no alert.',
    'Watch them with `nats sub \'omoi.evt.alert.>\'`; acknowledge or resolve with `alert.acknowledge` /',
    '`alert.resolve` on `omoi.in` (the alert\'s `fingerprint` routes the command), or over HTTP.',
    '',
  );

  const webhookSample = makeEnvelope('ticket.created', { ticket_id: 'T1', title: 'Add feature X and Y', tasks: ['A', 'B'], joins: [] }, { source: 'node-a', id: '6f1c2d3e-0000-4000-8000-000000000002', time: EXAMPLE_TIME });
  out.push(
    '## Webhooks',
    '',
    'Webhooks add no NATS subject: they carry the events above over HTTP. Subscriptions are made',
    'over HTTP by an admin (`POST /api/webhooks`, `omoi webhooks add`), not by a command: like API',
    'tokens they configure an outside integration that no actor owns, and nothing orders them with',
    'entity state.',
    '',
    `**Outgoing.** The durable consumer \`${WEBHOOK_DELIVERY_CONSUMER}\` on \`${Subjects.eventsAll}\` (shared by every node, starting with`,
    'new events) records each event once per active subscription made before it (the envelope\'s',
    '`time`) whose `events` globs match its type (`*` matches any characters: `ticket.*`, `*`) and,',
    'if the subscription names a `ticket_id`, whose payload has that `ticket_id`. A redelivered event',
    'finds its rows and records nothing. Each delivery is POSTed to the subscription\'s URL:',
    '',
    '| Header | Value |',
    '| --- | --- |',
    '| `Content-Type` | `application/json` |',
    '| `Omoi-Delivery` | the delivery id: the same on every retry of this event to this subscription |',
    '| `Omoi-Event` | the event type |',
    '| `Omoi-Timestamp` | when this attempt was made, ISO-8601 UTC |',
    '| `Omoi-Signature` | `sha256=` and the hex HMAC-SHA256, keyed by the subscription\'s secret, of `<Omoi-Timestamp>.<body>` (the timestamp, a dot, the exact body bytes) |',
    '',
    'The body is the event\'s envelope, as on NATS (schema: [Envelope](#envelope); the payload as the',
    'event\'s schema below):',
    '',
    '```json',
    JSON.stringify(webhookSample, null, 2),
    '```',
    '',
    'A 2xx answer delivers it; 408, 429, 5xx, no answer in 10 s or a refused connection are retried',
    'with exponential backoff and jitter (2 s doubling to 10 min) up to `OMOI_WEBHOOK_DELIVERY_MAX_ATTEMPTS`',
    'attempts, behind a circuit breaker per subscription (`webhook`, key `subscription:<id>`); any other',
    'status, or a redirect, fails it at once (`route_refused`). A receiver should check the signature,',
    'refuse a timestamp older than a few minutes, and drop an `Omoi-Delivery` it has seen.',
    '',
    '**Incoming.** `POST /api/hooks/github` takes GitHub\'s webhooks (`X-GitHub-Event`, `X-GitHub-Delivery`,',
    '`X-Hub-Signature-256: sha256=<HMAC of the raw body>` with `webhooks.github.secret`) and turns them,',
    'by the rules of `webhooks.github.rules`, into the ingress commands `ticket.create` (an `issues` event,',
    'e.g. labelled `omoi`) and `ticket.cancel` (an `issue_comment` starting with e.g. `/omoi cancel`), with',
    'message id `github:<X-GitHub-Delivery>` and source `http:github:<sender login>`; a delivery id seen',
    'before does nothing.',
    '',
    '## Approvals and delivery',
    '',
    '`ticket.create` `approvals` names human gates. `before_execute`: the ticket is `awaiting_approval`',
    '(`ticket.awaiting_approval`) and nothing runs until `ticket.approve` (then `running`); `ticket.reject`',
    '(a comment required) cancels it with reason `rejected: <comment>`. Each decision is a row of `omoi_approval`',
    '(entity kind and id, gate, decision, comment, principal, time; shown by `GET /api/tickets/<id>` as `approvals`)',
    'and an event (`ticket.approved`, `ticket.rejected_at_gate`). A decision for a gate the ticket does not wait',
    'at is refused with `gate_not_awaiting`.',
    '',
    '`ticket.create` `delivery` pushes the ticket branch once it is `completed`, beside its status',
    '(`delivery_status`: `awaiting_approval` with the `before_delivery` gate, `rejected`, `pushing`, `delivered`,',
    '`failed`). The push, `git push --force <remote> <head>:refs/heads/<branch>` (the branch is Omoi\'s), is a row',
    'of `omoi_ticket_push` written with the ticket\'s change and delivered by every node\'s dispatcher: retried with',
    'exponential backoff and jitter (`OMOI_PUSH_RETRY_BASE_MS` doubling to 10 min) up to `OMOI_PUSH_MAX_ATTEMPTS`,',
    'behind the `git_remote` breaker keyed `push <remote>`; its end is told to the ticket by `ticket.delivery_report`',
    '(id `delivery-report:<ticket>:<round>`) → `ticket.delivered` or `ticket.delivery_failed`. `ticket.deliver`',
    'starts a new round after a failure. Pushing a head the branch already has is a success that changes nothing,',
    'so a push resumed after a node died is harmless; the pull request command runs once per round.',
    '',
  );

  const create = cmds.find((d) => d.type === 'ticket.create');
  out.push(
    '## Sending commands from outside',
    '',
    'Publish a command on `omoi.in.<type>` (only commands marked *ingress* below are accepted there).',
    'The body may be either:',
    '',
    '- a **bare payload**: the subject gives the type, the `Nats-Msg-Id` header (or a fresh UUID) gives the',
    '  envelope id, and the node fills in the rest of the envelope; this is the friendly form for `nats pub`;',
    '- a **full envelope** whose `type` equals the subject\'s type.',
    '',
    'Missing optional fields get the defaults of the schema. The command is then routed to the',
    'partition of its entity and handled by exactly one actor.',
    '',
    '**Deduplication.** Give each logical command an id and send it as `Nats-Msg-Id`',
    '(`nats pub -H Nats-Msg-Id:<id> …`, `omoi pub --id <id> …`). JetStream drops a republished id',
    'inside the duplicate window, and the node records every handled id: a command delivered twice',
    'takes effect once.',
    '',
    '**Audit.** The node records every command it routes or rejects here in its audit log',
    '(`omoi audit`, `GET /api/audit`) as principal `nats-client` (or `agent:<id>` for a remote agent\'s',
    'message whose signature it verified) on channel `nats`, or `cli` when the message carries the header',
    '`Omoi-Channel: cli` (which `omoi pub` sets). The header changes nothing else. An accepted',
    '`agent.heartbeat` is not recorded: it is liveness, not a command.',
    '',
    '**Credentials.** A node\'s embedded nats-server lets in only its users (docs/security.md). On the',
    'node\'s machine, `omoi pub` finds the client user in the data directory; for `nats`, first',
    '`set -a; . .omoi/nats-client.env; set +a` (it sets `NATS_URL`, `NATS_USER`, `NATS_PASSWORD`, and',
    '`NATS_INBOX_PREFIX`, which a `nats` command that waits for a reply takes as `--inbox-prefix`). The',
    'client user may publish on `omoi.in.>` only, except an agent\'s reports (`agent.register`,',
    '`agent.heartbeat`, `agent.deregister`, `agent.stop_acknowledged`, `agent.control_acknowledged`, `task.started`, `task.progress`, `task.complete`,',
    '`task.fail`, `task.agent_add`, `task.agent_split`: those come from',
    'the agent\'s own user, see [Remote agents](#remote-agents)), and read `omoi.evt.>` and `omoi.errors.>`.',
    '',
    ...(create ? ['Example:', '', '```sh', natsPub(create, 'Nats-Msg-Id:create-T1'), '```', ''] : []),
  );

  out.push(
    '## Remote agents',
    '',
    'A remote agent is any program with a NATS connection and git; it needs nothing of Omoi\'s',
    '(test/cluster/remote-agent.test.ts runs one written with the nats.js client and the git CLI).',
    'The whole loop, with agent `agent-7` and ticket `T1`:',
    '',
    '**Credentials.** On a node\'s embedded nats-server an agent has a user of its own: an nkey made by',
    '`omoi nats-user add-agent <agent_id> --out <file>` (docs/security.md). Connect with that seed',
    '(`NATS_NKEY=<file>`; nats.js `nkeyAuthenticator`) and the inbox prefix `_INBOX.omoi-agent.<token>`,',
    'where `<token>` is the agent id with every `.` replaced by `~`; name the durable consumer of step 2',
    '`<token>` too, with the filter `omoi.agent.<agent_id>.>`: the user may create, read and ack only that',
    'consumer, publish only its own `agent.*` and `task.*` reports, and get and put objects in',
    `\`${GIT_BUCKET}\`.`,
    '',
    '1. **Register** once with your ed25519 public key (PEM), signed with its private key, then',
    '   **heartbeat** every few seconds. A message that overtakes its registration (the node does not',
    '   know the agent yet) is retried for a few seconds (`OMOI_MAX_DELIVER` deliveries, 1 s apart) before',
    '   it is refused, so an agent need not wait for the [`agent.status`](#agentstatus) event. An agent that misses heartbeats is degraded, then failed, and its attempts',
    '   go back to the queue. Ids starting with `local-` are the nodes\' own agents: registering one as a',
    '   remote agent is refused (`reserved_agent_id`). `POST /api/agents` makes a key pair for you.',
    '   **Every message an agent sends is signed** ([Signing](#signing)); a bare `nats pub` is refused (`bad_signature`).',
    '',
    '   ```sh',
    `   nats pub omoi.in.agent.register '{"agent_id":"agent-7","name":"coder-7","phase":"execute","capabilities":["git"],"version":"1.2.0","public_key":"<PEM, its newlines as \\n>"}' -H Nats-Msg-Id:register-agent-7 -H Omoi-Agent:agent-7 -H Omoi-Time:<time> -H Omoi-Signature:<signature>`,
    '   ```',
    '',
    `2. **Receive assignments.** Each is stored in stream \`${Streams.events}\` on \`${Subjects.agentAssignments('<agent_id>')}\``,
    '   (a bare [`agent.assign`](#agentassign) payload, published until JetStream stored it), also while the',
    `   agent is away; so are its stops, on \`${Subjects.agentStops('<agent_id>')}\`, and its controls (step 7). Read them with a durable consumer`,
    '   of the agent\'s own and ack each once taken:',
    '',
    '   ```sh',
    `   nats consumer add ${Streams.events} agent-7 --filter '${Subjects.agentAll('agent-7')}' --ack explicit --deliver all --pull --defaults`,
    `   nats consumer next ${Streams.events} agent-7 --ack`,
    '   ```',
    '',
    '   Reports name their attempt, and a report of an attempt that is no longer live changes nothing;',
    '   an attempt the agent never starts is offered again after its deadline (`OMOI_ATTEMPT_SILENCE_MS`).',
    '3. **Say it started:** [`task.started`](#taskstarted) with `ticket_id`, `task_id` and `attempt`.',
    '4. **Fetch the base** (`base`): a commit of the ticket\'s repository (`repository`: a ticket\'s first',
    `   tasks start there), or one Omoi made, in the object store \`${GIT_BUCKET}\` as \`<ticket>/<commit>\`. Such a`,
    '   bundle holds what the commit adds over the commits in its `requires` metadata: fetch those first',
    '   (the same way), then unbundle it.',
    '',
    '   ```sh',
    `   nats object info ${GIT_BUCKET} T1/<base> --json | jq -r .metadata.requires    # commits it builds on`,
    `   nats object get ${GIT_BUCKET} T1/<base> -O base.bundle && git bundle unbundle base.bundle`,
    '   git worktree add -B <branch> work <base>',
    '   ```',
    '',
    '5. **Work** on `branch`, then commit. While it works, report [`task.progress`](#taskprogress) now and',
    '   then (an optional `message` and `percent`): an attempt with no progress for `OMOI_TASK_STALL_MS`',
    '   (default 15 minutes) is stalled ([`task.stalled`](#taskstalled); left for a person, or restarted).',
    '   A stop naming the attempt (the task was cancelled, or its deadline passed) means: kill its',
    '   process, report no result, and **acknowledge** it with [`agent.stop_acknowledged`](#agentstop_acknowledged)',
    '   (`agent_id`, `ticket_id`, `task_id`, `attempt`). Until then the attempt keeps one of the agent\'s',
    '   slots; a stop not acknowledged within `OMOI_STOP_ACK_TIMEOUT_MS` (default 60 s) frees it anyway',
    '   ([`agent.stopped`](#agentstopped) tells which: `acknowledged` or `unacknowledged`).',
    '6. **Deliver the commit, then report it.** Upload a bundle of what it adds over the base as',
    '   `<ticket>/<commit>` (metadata `requires` = the base; without it the bundle\'s own',
    '   prerequisites are read), then publish [`task.complete`](#taskcomplete) with `commit`. Or',
    '   [`task.fail`](#taskfail) with the error.',
    '',
    '   ```sh',
    '   git -C work bundle create ../out.bundle HEAD ^<base>',
    `   nats object put ${GIT_BUCKET} out.bundle --name T1/$(git -C work rev-parse HEAD)`,
    `   nats pub -H Nats-Msg-Id:complete-T1-B-1 -H Omoi-Agent:agent-7 -H Omoi-Time:<time> -H Omoi-Signature:<signature> omoi.in.task.complete '{"ticket_id":"T1","task_id":"B","attempt":1,"commit":"'$(git -C work rev-parse HEAD)'"}'`,
    '   ```',
    '',
    '   The node checks the commit before it takes it: one in neither the object store nor the',
    '   repository (`commit_unavailable`), a bundle git refuses (`bad_bundle`), or a commit that does',
    '   not descend from the attempt\'s base (`not_descendant`) fails the attempt, retryably, with',
    '   that reason ([`task.status`](#taskstatus) `ready` names it) and the task is offered again.',
    '   A report of an attempt assigned to another agent is refused (`wrong_agent`).',
    '',
    '   **Task checks.** An assignment with `check` (the task\'s tests or linters) is done only once the',
    '   check passed: after the work is committed, run `check` with `sh -c` in the same worktree, with the',
    '   same isolation, network rule and environment as the task, within what is left of `timeout_ms`.',
    '   Exit 0: report `task.complete` with `"check":{"exit_code":0}` (a completion without it fails the',
    '   attempt retryably, `check_not_run`); keep what the check wrote out of the commit. Non-zero exit',
    '   or timeout: report `task.fail` with `"reason":"check_failed"`, `retryable: true` and',
    '   `"check":{"exit_code":<n or null>,"timed_out":<bool>,"output":"<the end of its output>"}` (mask',
    '   your secrets in it). The attempt counts against `max_retries` ([`task.check_failed`](#taskcheck_failed)),',
    '   and the next assignment\'s `context.previous_attempt` is `{attempt, reason: "check_failed", check:',
    '   {command, exit_code, timed_out, output}}` (the last 4,000 characters): what the next attempt must fix.',
    '',
    '   Both reports may carry what the attempt used, `usage` (`model`, `input_tokens`, `output_tokens`,',
    '   `cost_usd`, `wall_ms`): it is added once to the spend of the ticket and of the agent, and counts',
    '   against their budgets ([`budget.warning`](#budgetwarning), [`budget.exceeded`](#budgetexceeded)).',
    '   An agent over budget is offered nothing until [`agent.set_budget`](#agentset_budget) raises it.',
    '',
    `7. **Obey controls.** On \`${Subjects.agentControls('<agent_id>')}\` (the same consumer) an operator's`,
    '   controls arrive, each with a `control_id`:',
    '',
    '   | `kind` | What the agent does | Acknowledge |',
    '   | --- | --- | --- |',
    '   | `drain` | finish the attempts it runs; it is offered no new ones (the scheduler sees to that) | yes |',
    '   | `undrain` | nothing: it is offered tasks again | no |',
    '   | `shutdown` | finish the attempts it runs, then stop heartbeating and exit; once they end it is removed (reason `shutdown`) | yes |',
    '   | `broadcast` | show or log `message` | no |',
    '',
    '   A control with `ack: true` is answered with [`agent.control_acknowledged`](#agentcontrol_acknowledged)',
    '   (`agent_id`, `control_id`, signed). Until then it is `awaiting_ack` in the agent\'s `controls`',
    '   (`GET /api/agents/<id>`); after `OMOI_STOP_ACK_TIMEOUT_MS` it is `overdue`, with an',
    '   [`agent.control_overdue`](#agentcontrol_overdue) event (a later acknowledgement still counts).',
    '   The payload:',
    '',
    json(AgentControl),
    '',
    '### Signing',
    '',
    `An agent's ${[...SIGNED_AGENT_TYPES].map((t) => `\`${t}\``).join(', ')} on \`omoi.in\` must carry these`,
    'NATS headers; the ingress router checks them before anything else sees the message:',
    '',
    '| Header | Value |',
    '| --- | --- |',
    '| `Nats-Msg-Id` | the message id (for a full envelope, its `id`): an agent uses each id once |',
    '| `Omoi-Agent` | the agent\'s id (the payload\'s `agent_id`, where it has one) |',
    '| `Omoi-Time` | when it was signed, ISO-8601 UTC (`2026-01-01T12:00:00.000Z`); within `OMOI_SIGNATURE_MAX_AGE_MS` (default 5 minutes) of the node\'s clock |',
    '| `Omoi-Signature` | base64 of the ed25519 signature of the bytes below, by the agent\'s private key |',
    '',
    'The signed bytes are, in UTF-8, each line ending in one `\\n`, then the body exactly as published:',
    '',
    '```',
    `${SIGNATURE_CONTEXT}`,
    '<subject, e.g. omoi.in.task.complete>',
    '<Nats-Msg-Id>',
    '<Omoi-Time>',
    '<Omoi-Agent>',
    '<body bytes>',
    '```',
    '',
    'The key is the one registered for the agent (`public_key`, PEM SPKI); a new agent\'s',
    '`agent.register` is signed with the key it registers. A message signed by the current key may',
    'replace it: `agent.register` again with a new `public_key`, or [`agent.rotate_key`](#agentrotate_key); an admin',
    'may do it with `POST /api/agents/<id>/rotate-key` (a new pair). Use the new key once the node',
    'took the rotation: after its `agent.status` event (reason `public key rotated`), which an operator',
    'sees; an agent, whose NATS user reads no events, waits a few seconds. The node sets the source of an accepted',
    'message to `agent:<id>`; messages that fail are refused (`bad_signature`, `replayed`,',
    '`wrong_agent`, see [Errors](#errors)) and never redelivered.',
    '',
    'Node (no dependency):',
    '',
    '```js',
    SIGNING_EXAMPLES.node,
    '```',
    '',
    'Python ([`cryptography`](https://cryptography.io)):',
    '',
    '```python',
    SIGNING_EXAMPLES.python,
    '```',
    '',
    'Shell (OpenSSL 3 and the `nats` CLI):',
    '',
    '```sh',
    SIGNING_EXAMPLES.shell,
    '```',
    '',
    'Or `omoi pub`, which signs when given the agent and its key (and refuses to send an agent\'s message unsigned):',
    '',
    '```sh',
    `omoi pub omoi.in.agent.heartbeat '{"agent_id":"agent-7"}' --agent agent-7 --key agent-7.key`,
    '```',
    '',
  );

  out.push(...taskApiSection());

  out.push(
    '## Task context and memory',
    '',
    'An [`agent.assign`](#agentassign)\'s `context` (for the local agent: the `context` of the JSON in',
    '`$OMOI_TASK_FILE`, beside `task`) is what the task starts with: a join\'s continuation gets its',
    'sources\' synthesized results; any task may also get `memory`, the most relevant earlier work on',
    'the same repository (memory adds no NATS subject):',
    '',
    '```json',
    JSON.stringify({ memory: MEMORY_EXAMPLE }, null, 2),
    '```',
    '',
    '- `results`: at most `OMOI_MEMORY_CONTEXT_LIMIT` (3) rows of the repository\'s memory, best first:',
    '  full-text rank (`ts_rank`, English stemming) of any significant word of the task\'s title, run or',
    '  prompt and owned globs. `kind` is `task_result` (`excerpt`: the start of its JSON result),',
    '  `task_failure` (the reason it failed for good) or `merge_resolution` (the files resolved and by',
    '  what); `title` is at most 300 characters, `excerpt` 400. The task\'s own earlier rows are left out.',
    '- `conflicts`: for each file the task owns (its `owns` globs) that conflicted in an earlier merge,',
    '  the newest resolution: `resolved_by` is `rule:<name>` (a built-in rule), `resolver` (the',
    '  ticket\'s `resolver_command`) or `person` (a commit given with `merge.resolve`); `commit` is the',
    '  resolved merge commit. At most `OMOI_MEMORY_CONTEXT_LIMIT`.',
    '',
    '`memory` is absent when nothing matched, when `OMOI_MEMORY_CONTEXT_LIMIT` is 0, or when recall',
    'failed or took longer than `OMOI_MEMORY_RECALL_TIMEOUT_MS` (500 ms): the assignment never waits',
    'on it nor fails because of it. A synthesized context that is not a JSON object gets no `memory`;',
    'a source result key named `memory` is replaced by it.',
    '',
    `The memory is indexed by the durable consumer \`${MEMORY_INDEX_CONSUMER}\` on \`${Subjects.eventsAll}\` (shared by every node,`,
    'starting with the stream\'s history): `task.status` `completed` and `failed`, `merge.attempted` with',
    '`ok` whose attempt resolved files, and `join.status` `merged` after an attempt left files',
    'unresolved (a person\'s commit). One row per event id: a redelivered event adds nothing. Search it',
    'with `GET /api/memory/search?q=…` or `omoi memory search …`.',
    '',
  );

  out.push(
    '## Errors',
    '',
    'Input that cannot be accepted is never redelivered forever and never reaches an actor. It is',
    'kept whole as a dead letter (`omoi dlq list`, `GET /api/dlq`) and announced by an',
    `[\`error.rejected\`](#${anchor('error.rejected')}) event on \`omoi.errors.<code>\`, whose \`reason\` names the problem and`,
    '`path` the offending field (a JSON pointer). Codes:',
    '',
    '| Code | Meaning |',
    '| --- | --- |',
    ...INPUT_ERROR_CODES.map((c) => `| \`${c.code}\` | ${c.meaning} |`),
    '',
    'A handler that refuses a valid command for a domain reason (an unknown ticket, a cycle in the',
    'DAG, an illegal transition) uses its own stable code, such as `cycle`, `duplicate_ticket` or',
    `\`illegal_transition\`; ticket commands are also answered with a [\`ticket.rejected\`](#${anchor('ticket.rejected')}) event.`,
    '',
    'Watch errors: `nats sub \'omoi.errors.>\'`. Retry or discard a dead letter with `omoi dlq retry <id>` /',
    '`omoi dlq discard <id>`.',
    '',
  );

  out.push('## Commands', '', 'Instructions to one entity. Each is handled by exactly one actor type.', '');
  for (const def of cmds) out.push(...commandSection(def));
  out.push('## Events', '', 'Facts, for observers. Events are plain envelopes; subscribing never affects the system.', '');
  for (const def of evts) out.push(...eventSection(def));

  return out.join('\n').replace(/\n+$/, '\n');
}

/** The API a running task reaches from inside its sandbox (src/task-api): its environment, endpoints and answers. */
function taskApiSection(): string[] {
  const bodies: Record<keyof typeof TASK_ENDPOINTS, string> = {
    add: 'a task spec (the `task` of `task.add`); the ticket is the attempt\'s own',
    split: '`{ "tasks": [spec, ...], "continuation": spec }` (of `task.split`); the task is the attempt\'s own',
    progress: '`{ "message"?: string, "percent"?: 0-100 }` (of `task.progress`); a message or percent is a `task.progressed` event',
  };
  return [
    '## Task API',
    '',
    'A command a node runs for a task attempt (a command task, or the agent CLI of an agent task) can',
    'add tasks to its ticket, split itself and report progress while it runs. Its environment names an',
    'HTTP API of that attempt alone, on a unix socket; it exists exactly while the attempt\'s command runs:',
    '',
    '| Variable | Meaning |',
    '| --- | --- |',
    `| \`${TaskApiEnv.socket}\` | the unix socket (reachable inside the sandbox, also with \`network: false\`); removed when the command ends |`,
    `| \`${TaskApiEnv.token}\` | the attempt\'s bearer token (random per attempt): \`Authorization: Bearer $${TaskApiEnv.token}\` |`,
    `| \`${TaskApiEnv.cli}\` | the client, \`omoi-task\` (its directory is first on \`PATH\`; \`omoi-task --help\`) |`,
    '',
    'Alongside `OMOI_TASK_FILE`, `OMOI_RESULT_FILE`, `OMOI_TASK_ID`, `OMOI_TICKET_ID`, `OMOI_ATTEMPT` (and',
    '`OMOI_PROMPT_FILE` for agents). Endpoints (`POST`, JSON body), each sent as the command named,',
    'with envelope source `task:<ticket>/<task>#<attempt>`, to the ticket\'s partition:',
    '',
    '| Endpoint | Command | Body |',
    '| --- | --- | --- |',
    ...Object.entries(TASK_ENDPOINTS).map(([name, type]) => `| \`/${name}\` | [\`${type}\`](#${anchor(type)}) | ${bodies[name as keyof typeof TASK_ENDPOINTS]} |`),
    '',
    'A body naming another `ticket_id`, `task_id` or `attempt` is refused (`not_own_attempt`, 403).',
    'An `Idempotency-Key` header makes a retried call one command. Answers, after waiting up to 10 s',
    'for the TicketActor:',
    '',
    '- `200 {"status":"accepted","type":…,"message_id":…,"ticket_id":…,"task_id":…,"attempt":…}`: applied;',
    '- `202 {"status":"pending",…}`: durable but not applied yet (a busy partition): watch `omoi.evt.task.>`;',
    '- `4xx {"error":{"code","message","field"?},"message_id"?}`: refused, nothing changed. The ticket\'s own codes',
    '  (`cycle`, `unknown_dependency`, `duplicate_task`, `self_dependency`: 400; `not_found`: 404;',
    '  `illegal_transition`, `ticket_ended`: 409), the schema\'s (`schema_violation`, `field` a JSON pointer',
    '  into the body), `unauthorized` (401: a missing token, or another attempt\'s), `not_own_attempt` (403),',
    '  `not_found` (404: an unknown path), `malformed_json`, `payload_too_large` (413);',
    '- `429 {"error":{"code":"rate_limited","message","retry_after_ms"}}` (and `Retry-After`): the attempt made',
    '  `OMOI_TASK_API_MAX_CALLS` calls (default 60) within 10 s, or has 8 waiting for their answer; nothing was',
    '  sent. Wait `retry_after_ms` and call again (`omoi-task` does, for up to a minute). Not audited: a flood of',
    '  refusals must not become a flood of rows;',
    '- `503 nats_unavailable`: the command could not be published; try again.',
    '',
    'Each call (but a rate-limited one) writes an audit row: principal `task:<ticket>/<task>#<attempt>`, channel `task`.',
    '',
    '```sh',
    `curl -s --unix-socket "$${TaskApiEnv.socket}" -H "Authorization: Bearer $${TaskApiEnv.token}" -H 'Content-Type: application/json' \\`,
    `     http://task/split -d '{"tasks":[{"id":"B1","run":"make api","owns":["src/api/**"]},{"id":"B2","run":"make ui","owns":["src/ui/**"]}],"continuation":{"id":"C","run":"make e2e"}}'`,
    `omoi-task split --task 'B1=make api=src/api/**' --task 'B2=make ui=src/ui/**' --continuation 'C=make e2e'   # the same`,
    '```',
    '',
    'A remote agent runs its tasks outside any node and gets no task API: it discovers work with',
    `[\`task.agent_add\`](#${anchor('task.agent_add')}) and [\`task.agent_split\`](#${anchor('task.agent_split')}) on \`omoi.in\`, signed (see [Signing](#signing)),`,
    'naming the attempt it runs (`agent_id`, `ticket_id`, `task_id`, `attempt`): refused unless that attempt is',
    'its own (`wrong_agent`) and the task\'s live one (`not_running`). Its NATS user may not publish `task.add` or',
    '`task.split`, which a client or operator may send for any ticket.',
    '',
  ];
}

function commandSection(def: CommandDef): string[] {
  const route = def.route(def.example as never);
  const partitionSubject = Subjects.partition(0, def.type).replace('.0.', '.<n>.');
  const subjects = [
    ...(def.ingress ? [Subjects.ingress(def.type)] : []),
    partitionSubject,
    ...(EXTRA_SUBJECTS[def.type]?.subjects ?? []),
  ];
  const lines = [
    `### \`${def.type}\``,
    '',
    def.description,
    '',
    `- **Kind:** command${def.ingress ? ' (ingress: outside clients may send it)' : ' (internal: sent by the nodes, not accepted on `omoi.in.>`)'}`,
    `- **Subjects:** ${subjects.map((s) => `\`${s}\``).join(', ')}`,
    `- **Handled by:** \`${def.handledBy}\`, routed to the partition of the \`${route.entity}\` it names`,
    '',
    '**Payload schema:**',
    '',
    json(def.payload),
    '',
  ];
  if (def.ingress) {
    if (SIGNED_AGENT_TYPES.has(def.type)) lines.push('**Signed:** a remote agent signs it with its key (see [Signing](#signing)); a bare `nats pub` like the one below is refused (`bad_signature`).', '');
    lines.push('**Send it:**', '', '```sh', natsPub(def), '```', '');
  } else {
    lines.push('**Watch it:**', '', '```sh', `nats sub '${Subjects.partition(0, def.type).replace('.0.', '.*.')}'`, '```', '', '**Example payload:**', '', json(def.example), '');
  }
  return lines;
}

function eventSection(def: EventDef): string[] {
  const extra = EXTRA_SUBJECTS[def.type];
  const subjects = [...(extra?.replacesEvent ? [] : [Subjects.event(def.type)]), ...(extra?.subjects ?? [])];
  const watch = extra?.replacesEvent ? subjects[0]!.replace(/<[^>]+>/g, '*') : Subjects.event(def.type);
  return [
    `### \`${def.type}\``,
    '',
    def.description,
    '',
    '- **Kind:** event',
    `- **Subjects:** ${subjects.map((s) => `\`${s}\``).join(', ')}`,
    `- **Consumers:** ${def.consumers.join('; ')}`,
    '',
    '**Payload schema:**',
    '',
    json(def.payload),
    '',
    '**Watch it:**',
    '',
    '```sh',
    `nats sub '${watch}'`,
    '```',
    '',
    '**Example payload:**',
    '',
    json(def.example),
    '',
  ];
}

function natsPub(def: MessageDef, header?: string): string {
  const body = JSON.stringify(def.example).replace(/'/g, `'\\''`);
  return `nats pub ${header ? `-H ${header} ` : ''}${Subjects.ingress(def.type)} '${body}'`;
}

function json(value: unknown): string {
  return ['```json', JSON.stringify(value, null, 2), '```'].join('\n');
}

/** GitHub's heading anchor for a heading that is just `` `type` ``. */
function anchor(type: string): string {
  return type.toLowerCase().replace(/[^a-z0-9_ -]/g, '').replace(/ /g, '-');
}
