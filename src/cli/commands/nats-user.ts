import fs from 'node:fs';
import path from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import { loadConfig } from '../../config/index.ts';
import {
  checkNewAgentId, embeddedAuthorization, NatsAuthFiles, readAgentUsers, reloadEmbeddedNats, writeAgentUsers, writeEmbeddedNatsConfig,
} from '../../embedded/index.ts';
import { OmoiError } from '../../errors.ts';
import { agentConsumerName, agentInboxPrefix, agentPermissions, authorizationBlock, clientPermissions, nodePermissions } from '../../messaging/nats-permissions.ts';
import { CliError } from '../cli-error.ts';

export interface AddAgentOptions {
  /** Where to write the agent's nkey seed (default `./<agent-id>.nk`). */
  out?: string;
  /** Print the user block for an external server's config instead of changing anything here. */
  printConfig?: boolean;
}

/**
 * `omoi nats-user add-agent <id>`: makes an nkey pair for remote agent `id`, records its
 * public key in `<data dir>/nats-agents.json`, writes the seed to `--out` (0600, never
 * overwritten), rewrites the embedded server's config and makes the running server reload it
 * (a stopped one reads it at its next start). With `--print-config` the user block for an
 * external nats-server is printed too. Returns the lines to print.
 */
export async function addAgent(agentId: string, opts: AddAgentOptions): Promise<string> {
  const { dataDir } = loadConfig(process.env);
  const agents = readAgentUsers(dataDir);
  try {
    checkNewAgentId(agentId, agents);
  } catch (err) {
    throw asCliError(err);
  }
  const out = path.resolve(opts.out ?? `${agentId}.nk`);
  const pair = nkeys.createUser();
  const publicKey = pair.getPublicKey();
  try {
    // `wx`: an existing seed file (another agent's key) is never overwritten.
    fs.writeFileSync(out, new TextDecoder().decode(pair.getSeed()) + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(code === 'EEXIST' ? `${out} exists: choose another --out (a seed file is never overwritten)` : `cannot write ${out}: ${code ?? err}`);
  }
  writeAgentUsers(dataDir, [...agents, { agent_id: agentId, nkey: publicKey, added_at: new Date().toISOString() }]);
  const applied = await applyToEmbeddedServer(dataDir);
  const lines = [
    `agent ${agentId}: NATS user ${publicKey}; seed written to ${out} (give it to the agent only)`,
    `  connect with: NATS_NKEY=${out}, inbox prefix ${agentInboxPrefix(agentId)}; durable consumer on OMOI_EVT named ${agentConsumerName(agentId)}`,
    applied,
  ];
  if (opts.printConfig) lines.push('', externalConfig(agentId, publicKey));
  return lines.join('\n');
}

/** `omoi nats-user remove-agent <id>`: forgets its public key; the server refuses it after the reload. */
export async function removeAgent(agentId: string): Promise<string> {
  const { dataDir } = loadConfig(process.env);
  const agents = readAgentUsers(dataDir);
  if (!agents.some((a) => a.agent_id === agentId)) throw new CliError(`agent ${agentId} has no NATS user here (${NatsAuthFiles.agents(dataDir)})`);
  writeAgentUsers(dataDir, agents.filter((a) => a.agent_id !== agentId));
  return `agent ${agentId}: NATS user removed\n${await applyToEmbeddedServer(dataDir)}`;
}

/** `omoi nats-user list`: the agents with a NATS user, or (`--print-config`) an external server's whole `authorization` block. */
export function listAgents(opts: { printConfig?: boolean } = {}): string {
  const { dataDir } = loadConfig(process.env);
  const agents = readAgentUsers(dataDir);
  if (opts.printConfig) {
    // The whole block for an external server: nodes and clients with passwords of your choosing.
    return authorizationBlock([
      { kind: 'password', user: 'omoi-node', password: '<node password>', permissions: nodePermissions() },
      { kind: 'password', user: 'omoi-client', password: '<client password>', permissions: clientPermissions() },
      ...agents.map((a) => ({ kind: 'nkey' as const, nkey: a.nkey, permissions: agentPermissions(a.agent_id), comment: `remote agent ${a.agent_id}` })),
    ]).trimEnd();
  }
  if (agents.length === 0) return 'no remote agent has a NATS user';
  return agents.map((a) => `${a.agent_id}  ${a.nkey}  added ${a.added_at}`).join('\n');
}

/** The config of the embedded server rewritten and, if it runs, reloaded: says which. */
async function applyToEmbeddedServer(dataDir: string): Promise<string> {
  const storeDir = NatsAuthFiles.storeDir(dataDir);
  if (!fs.existsSync(storeDir)) {
    return `  (no embedded nats-server in ${dataDir}: for an external server, add the user block of --print-config to its config)`;
  }
  await writeEmbeddedNatsConfig(storeDir, embeddedAuthorization(dataDir));
  const pid = await reloadEmbeddedNats(storeDir);
  return pid ? `  the embedded nats-server (pid ${pid}) reloaded its users` : '  the embedded nats-server is not running: it has the user from its next start';
}

/** A user entry with its permissions, to paste into an external server's `authorization { users = [...] }`. */
function externalConfig(agentId: string, publicKey: string): string {
  const block = authorizationBlock([{ kind: 'nkey', nkey: publicKey, permissions: agentPermissions(agentId), comment: `remote agent ${agentId}` }]);
  // Only the user line(s): the server's own authorization block holds the other users.
  return block.split('\n').filter((l) => l.startsWith('    ')).map((l) => l.slice(4)).join('\n');
}

function asCliError(err: unknown): unknown {
  return err instanceof OmoiError ? new CliError(err.message) : err;
}
