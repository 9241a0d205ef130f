/**
 * Test fixtures: real servers, real repositories, temp dirs, all cleaned up in `t.teardown`.
 * Missing nats-server or PostgreSQL binaries fail the test with what to install.
 */
export type { TestContext } from './test-context.ts';
export { tempDir } from './temp-dir.ts';
export { waitFor, type WaitForOptions } from './wait-for.ts';
export { freePort } from '../../src/embedded/index.ts';
export { withNats } from './nats.ts';
export { withPostgres } from './postgres.ts';
export { makeRepo, git } from './git-repo.ts';
export { overlappingHoldings, misorderedHoldings } from './lease-history.ts';
