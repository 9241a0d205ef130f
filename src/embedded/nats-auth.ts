/**
 * The users of a node's embedded nats-server, kept in its data directory (every file 0600):
 * - `nats-auth.json`: the node's and the clients' user names and random passwords, made at
 *   the first start and reused after;
 * - `nats-agents.json`: one entry per remote agent, its nkey's public key only (the agent
 *   keeps the seed; `omoi nats-user add-agent`);
 * - `nats-client.env`: the client's URL and credentials as `NATS_*` lines, for
 *   `set -a; . .omoi/nats-client.env; set +a` and for `omoi pub/sub`.
 * The server config (`authorization { ... }`) is made from the first two at every start and
 * at every change of the agents.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LOCAL_AGENT_PREFIX } from '../actors/local-agent.ts';
import { OmoiError } from '../errors.ts';
import { isSafeId } from '../ids.ts';
import {
  agentPermissions, authorizationBlock, CLIENT_INBOX_PREFIX, clientPermissions, nodePermissions, type NatsUserEntry,
} from '../messaging/nats-permissions.ts';

export interface PasswordUser {
  user: string;
  password: string;
}

/** The password users of an embedded server. */
export interface NatsAuth {
  node: PasswordUser;
  client: PasswordUser;
}

/** A remote agent's NATS user: the public key of its nkey (starts with `U`). */
export interface AgentUser {
  agent_id: string;
  nkey: string;
  added_at: string;
}

export const NatsAuthFiles = {
  /** JetStream store of the embedded server (its config file and pid record live there too). */
  storeDir: (dataDir: string) => path.join(dataDir, 'nats'),
  auth: (dataDir: string) => path.join(dataDir, 'nats-auth.json'),
  agents: (dataDir: string) => path.join(dataDir, 'nats-agents.json'),
  clientEnv: (dataDir: string) => path.join(dataDir, 'nats-client.env'),
} as const;

const NODE_USER = 'omoi-node';
const CLIENT_USER = 'omoi-client';

/** The password users of `dataDir`'s embedded server: read, or made (once) and saved 0600. */
export function loadOrCreateNatsAuth(dataDir: string): NatsAuth {
  const existing = readNatsAuth(dataDir);
  if (existing) return existing;
  const auth: NatsAuth = {
    node: { user: NODE_USER, password: randomPassword() },
    client: { user: CLIENT_USER, password: randomPassword() },
  };
  writePrivate(NatsAuthFiles.auth(dataDir), JSON.stringify(auth, null, 2) + '\n');
  return auth;
}

/** The saved password users, or undefined when there are none (no embedded server started yet). */
export function readNatsAuth(dataDir: string): NatsAuth | undefined {
  const file = NatsAuthFiles.auth(dataDir);
  const parsed = readJson(file) as Partial<NatsAuth> | undefined;
  if (parsed === undefined) return undefined;
  if (!isPasswordUser(parsed.node) || !isPasswordUser(parsed.client)) {
    throw new OmoiError('nats_auth_file_invalid', `${file} is not a NATS users file of Omoi (delete it to make new passwords)`, { file });
  }
  return { node: parsed.node, client: parsed.client };
}

/** The remote agents' users recorded in `dataDir` (none if the file does not exist). */
export function readAgentUsers(dataDir: string): AgentUser[] {
  const file = NatsAuthFiles.agents(dataDir);
  const parsed = readJson(file) as { agents?: unknown } | undefined;
  if (parsed === undefined) return [];
  if (!Array.isArray(parsed.agents) || !parsed.agents.every(isAgentUser)) {
    throw new OmoiError('nats_auth_file_invalid', `${file} is not a NATS agents file of Omoi`, { file });
  }
  return parsed.agents;
}

export function writeAgentUsers(dataDir: string, agents: AgentUser[]): void {
  writePrivate(NatsAuthFiles.agents(dataDir), JSON.stringify({ agents }, null, 2) + '\n');
}

/** Every user of the embedded server with its permissions: the node, the clients, each agent. */
export function embeddedUsers(auth: NatsAuth, agents: AgentUser[]): NatsUserEntry[] {
  return [
    { kind: 'password', ...auth.node, permissions: nodePermissions() },
    { kind: 'password', ...auth.client, permissions: clientPermissions() },
    ...agents.map((a): NatsUserEntry => ({ kind: 'nkey', nkey: a.nkey, permissions: agentPermissions(a.agent_id), comment: `remote agent ${a.agent_id}` })),
  ];
}

/** The `authorization` block of `dataDir`'s embedded server, from its files as they are now. */
export function embeddedAuthorization(dataDir: string): string {
  return authorizationBlock(embeddedUsers(loadOrCreateNatsAuth(dataDir), readAgentUsers(dataDir)));
}

/**
 * Writes `nats-client.env` (0600): what a client on this machine needs to reach the embedded
 * server at `url`. Values are plain tokens (no shell quoting needed).
 */
export function writeClientEnv(dataDir: string, url: string, client: PasswordUser): void {
  writePrivate(NatsAuthFiles.clientEnv(dataDir), [
    '# Written by omoi start: the NATS client user of this node\'s embedded nats-server.',
    '# set -a; . ./nats-client.env; set +a   (then `nats` and `omoi pub/sub` use it)',
    `NATS_URL=${url}`,
    `NATS_USER=${client.user}`,
    `NATS_PASSWORD=${client.password}`,
    `NATS_INBOX_PREFIX=${CLIENT_INBOX_PREFIX}`,
    '',
  ].join('\n'));
}

/** The `KEY=value` lines of `nats-client.env`, or undefined when it does not exist. */
export function readClientEnv(dataDir: string): Record<string, string> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(NatsAuthFiles.clientEnv(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]!] = m[2]!;
  }
  return vars;
}

/**
 * Refuses an agent id that cannot get a user of its own: not a safe id, a node's own agent
 * (`local-…`), already provisioned,
 * or one whose assignment subjects overlap another's (`a` and `a.b`: `omoi.agent.a.>` covers
 * `omoi.agent.a.b.assign`).
 */
export function checkNewAgentId(agentId: string, existing: AgentUser[]): void {
  if (!isSafeId(agentId)) throw new OmoiError('invalid_agent_id', `${JSON.stringify(agentId)} is not a valid agent id (letters, digits, _ - and single dots, starting with a letter or digit)`);
  if (agentId.startsWith(LOCAL_AGENT_PREFIX)) throw new OmoiError('reserved_agent_id', `${agentId}: ids starting with ${LOCAL_AGENT_PREFIX} are the nodes' own agents, which use the node's NATS user`);
  for (const a of existing) {
    if (a.agent_id === agentId) throw new OmoiError('agent_user_exists', `agent ${agentId} already has a NATS user (remove-agent it first to make a new key)`);
    if (a.agent_id.startsWith(agentId + '.') || agentId.startsWith(a.agent_id + '.')) {
      throw new OmoiError('agent_id_overlaps', `agent ids ${agentId} and ${a.agent_id} overlap: ${a.agent_id.length < agentId.length ? a.agent_id : agentId}'s subjects omoi.agent.<id>.> would cover the other's`);
    }
  }
}

function randomPassword(): string {
  return crypto.randomBytes(24).toString('base64url');
}

function writePrivate(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file); // whole or not at all: a reader never sees half a file
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new OmoiError('nats_auth_file_invalid', `${file} is not valid JSON`, { file });
  }
}

function isPasswordUser(u: unknown): u is PasswordUser {
  const v = u as PasswordUser | undefined;
  return typeof v?.user === 'string' && typeof v.password === 'string' && v.user !== '' && v.password !== '';
}

function isAgentUser(u: unknown): u is AgentUser {
  const v = u as AgentUser | undefined;
  return typeof v?.agent_id === 'string' && typeof v.nkey === 'string' && /^U[A-Z2-7]{55}$/.test(v.nkey);
}
