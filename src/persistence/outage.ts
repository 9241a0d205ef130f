/**
 * Whether an error says the database was unreachable rather than that the work was wrong: a
 * refused or dropped connection, a server starting up or shutting down (SQLSTATE class 57:
 * operator intervention; class 08: connection exception), or a transaction whose connection
 * died under it (knex). Such a failure is nobody's fault: actors are not crashed for it
 * (src/actors/entity-host.ts) and messages do not spend deliveries on it
 * (src/messaging/partition-worker.ts); the work waits for the database instead.
 */
export function isDatabaseOutage(err: unknown): boolean {
  for (let e: any = err, depth = 0; e && depth < 5; e = e.cause, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (/^(57P0[1-3]|08\d\d\d)$/.test(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code)) return true;
    const message = typeof e.message === 'string' ? e.message : '';
    if (/the database system is (starting up|shutting down|in recovery mode)|Connection terminated|Transaction query already complete|terminating connection due to administrator command|Client has encountered a connection error|Knex: Timeout acquiring a connection/i.test(message)) return true;
  }
  return false;
}
