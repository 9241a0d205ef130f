import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsServers } from '../config/nats-servers.ts';
import type { Logger } from '../logging/logger.ts';
import { authFailure, connectOptionsOf, describe, type NatsCredentials } from './nats-credentials.ts';

export type { NatsConnection };

/**
 * Connects to NATS and keeps reconnecting forever (2 s between attempts, jittered), so a
 * nats-server restart only pauses the node. `url` may list several servers of one cluster
 * (comma-separated): the client picks one and moves to another when it goes away. Connection
 * status changes are logged. Credentials the server refuses end the first connect (nats.js
 * gives up after two refusals in a row) with `OmoiError` `nats_auth_failed` instead of
 * retrying forever; no secret is logged.
 */
export async function connectNats(url: string, name: string, log: Logger, creds: NatsCredentials = {}): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: natsServers(url),
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 2_000,
      waitOnFirstConnect: true,
      pingInterval: 10_000,
      ...connectOptionsOf(creds),
    });
  } catch (err) {
    throw authFailure(err, url, creds);
  }
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') log.warn({ status: s.type }, 'nats connection status');
    }
  })().catch(() => undefined);
  log.info({ url: nc.getServer(), as: describe(creds) }, 'nats connected');
  return nc;
}
