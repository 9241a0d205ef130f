import { connect, type NatsConnection } from '@nats-io/transport-node';
import { loadConfig } from '../config/index.ts';
import { natsServers } from '../config/nats-servers.ts';
import { NatsAuthFiles, readClientEnv, readNatsAuth } from '../embedded/index.ts';
import { errorMessage, OmoiError } from '../errors.ts';
import { authenticates, authFailure, connectOptionsOf, credentialsOf, type NatsCredentials } from '../messaging/nats-credentials.ts';
import { CLIENT_INBOX_PREFIX } from '../messaging/nats-permissions.ts';
import { CliError } from './cli-error.ts';
import { DEFAULT_NATS_URL } from './defaults.ts';

export { DEFAULT_NATS_URL };

/** Where a command connects, and as whom. */
export interface NatsTarget {
  url: string;
  creds: NatsCredentials;
  /** Where the URL and credentials came from, for error messages. */
  from: string;
}

/**
 * Where a command connects and with which credentials:
 * 1. `NATS_*` credentials in the environment (or the config file): those, at `--nats-url`,
 *    `NATS_URL`, the data directory's embedded server (its URL only) or the local default;
 * 2. else, when the data directory (`OMOI_DATA_DIR`, default `./.omoi`) has the files of a
 *    node's embedded nats-server and no other URL was asked for: that server, as its client
 *    user (`nats-client.env`), or as the node's own user for `role: 'node'` (`omoi dlq retry`
 *    republishes internal subjects; it needs the data directory anyway);
 * 3. else no credentials.
 * Throws `ConfigError` for an invalid `NATS_*` setting.
 */
export function natsTarget(option: string | undefined, role: 'client' | 'node' = 'client', env: NodeJS.ProcessEnv = process.env): NatsTarget {
  const config = loadConfig(env);
  const asked = option || config.natsUrl;
  const configured = credentialsOf(config);
  const local = readClientEnv(config.dataDir);
  // Own credentials (an agent's nkey, an operator's user): the local embedded server unless another URL is asked for.
  if (authenticates(configured)) return { url: asked || local?.NATS_URL || DEFAULT_NATS_URL, creds: configured, from: 'NATS_* settings' };
  if (local?.NATS_URL && (!asked || asked === local.NATS_URL)) {
    const file = NatsAuthFiles.clientEnv(config.dataDir);
    if (role === 'node') {
      const auth = readNatsAuth(config.dataDir);
      if (auth) return { url: local.NATS_URL, creds: { ...configured, user: auth.node.user, password: auth.node.password }, from: NatsAuthFiles.auth(config.dataDir) };
    }
    return {
      url: local.NATS_URL,
      creds: { ...configured, user: local.NATS_USER, password: local.NATS_PASSWORD, inboxPrefix: local.NATS_INBOX_PREFIX || CLIENT_INBOX_PREFIX },
      from: file,
    };
  }
  return { url: asked || DEFAULT_NATS_URL, creds: configured, from: 'no credentials' };
}

/**
 * Connects for a command. Unlike the node's connection it does not wait for a server that is
 * not there: the first attempt fails at once with a `CliError` naming the URL (and, when the
 * server refuses the credentials, whose they were, never a secret). `reconnect` (for
 * long-running watchers) keeps reconnecting after a lost connection.
 */
export async function connectCli(target: NatsTarget | string, opts: { reconnect?: boolean } = {}): Promise<NatsConnection> {
  const { url, creds, from } = typeof target === 'string' ? { url: target, creds: {}, from: 'no credentials' } : target;
  try {
    return await connect({
      servers: natsServers(url), name: 'omoi-cli', timeout: 5_000, maxReconnectAttempts: opts.reconnect ? -1 : 0,
      ...connectOptionsOf(creds),
    });
  } catch (err) {
    const failure = authFailure(err, url, creds);
    if (failure instanceof OmoiError) {
      const hint = authenticates(creds) ? '' : ': for a node\'s embedded nats-server, run where OMOI_DATA_DIR is its data directory, or source its nats-client.env';
      throw new CliError(`${failure.message} (credentials from ${from}${hint})`);
    }
    throw new CliError(`cannot connect to NATS at ${url}: ${errorMessage(err)}`);
  }
}
