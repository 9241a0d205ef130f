/**
 * Who may do what on Omoi's NATS: the permission blocks of the three roles, and the
 * `authorization { users = [...] }` block of a nats-server (2.9) config that gives them. One
 * source for the embedded server's config and for `omoi nats-user --print-config` (an
 * external server).
 *
 * Invariants:
 * 1. A client may only send commands (`omoi.in.>`, but not an agent's reports) and watch
 *    events and errors; it reads replies only on its own inbox prefix, never `_INBOX.>`
 *    (where nodes get their pull deliveries).
 * 2. A remote agent may only send its own lifecycle and task reports, read its own durable
 *    consumer on `OMOI_EVT` (created with its own filter in the create subject), and get and
 *    put objects in `OMOI_GIT` (never purge or delete the stream); it reads replies only on
 *    its own inbox prefix.
 * 3. Only nodes may publish on `omoi.part.>`.
 */
import { GIT_BUCKET } from './git-bucket.ts';
import { Streams, Subjects } from '../protocol/index.ts';

export interface NatsPermissions {
  publish: { allow: string[]; deny?: string[] };
  subscribe: { allow: string[]; deny?: string[] };
}

/** A user of the server: a password user (a node or a client) or an nkey user (a remote agent). */
export type NatsUserEntry =
  | { kind: 'password'; user: string; password: string; permissions: NatsPermissions }
  | { kind: 'nkey'; nkey: string; permissions: NatsPermissions; comment?: string };

/** Inbox prefix of clients (`omoi pub/sub`, the nats CLI with `--inbox-prefix`). */
export const CLIENT_INBOX_PREFIX = '_INBOX.omoi-client';

/**
 * The one subject token that stands for an agent: its id with every `.` as `~` (agent ids
 * never hold `~`). Its durable consumer on OMOI_EVT has this name (consumer names may not
 * hold `.`), and its inbox prefix ends in it, so agent `a` cannot subscribe to `a.b`'s inbox.
 */
export function agentToken(agentId: string): string {
  return agentId.replaceAll('.', '~');
}

/** Name of a remote agent's durable consumer on OMOI_EVT. */
export const agentConsumerName = agentToken;

/** Inbox prefix a remote agent must connect with (nats.js `inboxPrefix`). */
export function agentInboxPrefix(agentId: string): string {
  return `_INBOX.omoi-agent.${agentToken(agentId)}`;
}

const GIT_STREAM = `OBJ_${GIT_BUCKET}`;

/** A node: everything Omoi uses (its subjects, JetStream, object and KV stores, its inboxes). */
export function nodePermissions(): NatsPermissions {
  const all = ['omoi.>', '$JS.>', '$O.>', '$KV.>', '_INBOX.>'];
  return { publish: { allow: all }, subscribe: { allow: all } };
}

/** Ingress commands a remote agent sends. */
export const AGENT_COMMANDS = ['agent.register', 'agent.heartbeat', 'agent.deregister', 'agent.stop_acknowledged', 'agent.control_acknowledged', 'task.started', 'task.progress', 'task.complete', 'task.fail', 'task.agent_add', 'task.agent_split'] as const;

/** A client or operator: send commands (not an agent's), watch events and errors, read-only stream lookups. */
export function clientPermissions(): NatsPermissions {
  return {
    publish: {
      allow: [
        Subjects.ingressAll,
        // `omoi pub` asks which stream stores a subject, to publish with JetStream and await the ack.
        '$JS.API.INFO', '$JS.API.STREAM.NAMES', `$JS.API.STREAM.INFO.${Streams.ingress}`,
      ],
      // A client does not speak for an agent: those reports come from the agent's own user.
      deny: AGENT_COMMANDS.map((type) => Subjects.ingress(type)),
    },
    subscribe: { allow: [Subjects.eventsAll, Subjects.errorsAll, `${CLIENT_INBOX_PREFIX}.>`] },
  };
}

/** Remote agent `agentId`: its reports, its own consumer of its assignments, stops and controls, the git bucket. */
export function agentPermissions(agentId: string): NatsPermissions {
  const consumer = agentConsumerName(agentId);
  const events = Streams.events;
  return {
    publish: {
      allow: [
        ...AGENT_COMMANDS.map((type) => Subjects.ingress(type)),
        '$JS.API.INFO',
        // Its durable consumer, only with its own filter (the 2.9 create subject carries it).
        `$JS.API.CONSUMER.CREATE.${events}.${consumer}.${Subjects.agentAll(agentId)}`,
        `$JS.API.CONSUMER.INFO.${events}.${consumer}`,
        `$JS.API.CONSUMER.MSG.NEXT.${events}.${consumer}`,
        `$JS.ACK.${events}.${consumer}.>`,
        // The git bucket: chunks and metadata, and what nats.js's object store get/put/info ask
        // (stream info, the last metadata message, an ordered consumer of an object's chunks).
        `$O.${GIT_BUCKET}.C.>`, `$O.${GIT_BUCKET}.M.>`,
        `$JS.API.STREAM.INFO.${GIT_STREAM}`,
        `$JS.API.STREAM.MSG.GET.${GIT_STREAM}`,
        `$JS.API.CONSUMER.CREATE.${GIT_STREAM}.*.$O.${GIT_BUCKET}.C.>`,
      ],
      // Named so that a later, broader allow cannot give them away.
      deny: [`$JS.API.STREAM.PURGE.${GIT_STREAM}`, `$JS.API.STREAM.DELETE.${GIT_STREAM}`, 'omoi.part.>', `$JS.API.CONSUMER.DURABLE.CREATE.>`],
    },
    subscribe: { allow: [`${agentInboxPrefix(agentId)}.>`] },
  };
}

/** The `authorization { users = [...] }` block of a nats-server config giving `users` their permissions. */
export function authorizationBlock(users: NatsUserEntry[]): string {
  const lines = ['authorization {', '  users = ['];
  for (const u of users) {
    if (u.kind === 'nkey' && u.comment) lines.push(`    # ${u.comment.replace(/[\r\n]/g, ' ')}`);
    const who = u.kind === 'password' ? `user: ${q(u.user)}, password: ${q(u.password)}` : `nkey: ${q(u.nkey)}`;
    lines.push(`    { ${who}, permissions: ${permissionsText(u.permissions)} }`);
  }
  lines.push('  ]', '}');
  return lines.join('\n') + '\n';
}

/** One user's `{ publish: {...}, subscribe: {...} }`, for a config file. */
export function permissionsText(p: NatsPermissions): string {
  const side = (s: { allow: string[]; deny?: string[] }) =>
    `{ allow: [${s.allow.map(q).join(', ')}]${s.deny?.length ? `, deny: [${s.deny.map(q).join(', ')}]` : ''} }`;
  return `{ publish: ${side(p.publish)}, subscribe: ${side(p.subscribe)} }`;
}

/** A double-quoted config string (our values hold no quotes or backslashes; JSON escapes any). */
function q(s: string): string {
  return JSON.stringify(s);
}
