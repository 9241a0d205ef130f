import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsServers } from '../config/nats-servers.ts';
import { errorMessage } from '../errors.ts';
import { CliError } from './cli-error.ts';
import { DEFAULT_NATS_URL } from './defaults.ts';

export { DEFAULT_NATS_URL };

/** `--nats-url`, else `NATS_URL`, else the local default. */
export function natsUrlFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option || env.NATS_URL || DEFAULT_NATS_URL;
}

/**
 * Connects for a command. Unlike the node's connection it does not wait for a server that is
 * not there: the first attempt fails at once with a `CliError` naming the URL. `reconnect`
 * (for long-running watchers) keeps reconnecting after a lost connection.
 */
export async function connectCli(url: string, opts: { reconnect?: boolean } = {}): Promise<NatsConnection> {
  try {
    return await connect({ servers: natsServers(url), name: 'omoi-cli', timeout: 5_000, maxReconnectAttempts: opts.reconnect ? -1 : 0 });
  } catch (err) {
    throw new CliError(`cannot connect to NATS at ${url}: ${errorMessage(err)}`);
  }
}
