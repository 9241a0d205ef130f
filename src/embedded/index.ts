/**
 * Embedded servers: PostgreSQL and nats-server run by a node that has no `DATABASE_URL` /
 * `NATS_URL`, and by the test harness as disposable fixtures. Both are stopped by the orphan
 * watchdog if their owner process dies, and recovered from a crashed earlier run at start.
 */
export { startEmbeddedPostgres, EMBEDDED_DATABASE } from './postgres.ts';
export type { EmbeddedPostgres, StartEmbeddedPostgresOptions } from './postgres.ts';
export { startEmbeddedNats, findNatsServer, writeEmbeddedNatsConfig, reloadEmbeddedNats } from './nats.ts';
export {
  NatsAuthFiles, loadOrCreateNatsAuth, readNatsAuth, readAgentUsers, writeAgentUsers, embeddedUsers, embeddedAuthorization,
  writeClientEnv, readClientEnv, checkNewAgentId,
} from './nats-auth.ts';
export type { NatsAuth, AgentUser, PasswordUser } from './nats-auth.ts';
export type { EmbeddedNats, StartEmbeddedNatsOptions } from './nats.ts';
export { connectSql, quoteIdent } from './sql-client.ts';
export type { SqlClient } from './sql-client.ts';
export { freePort } from './free-port.ts';
export { isRunning } from './processes.ts';
