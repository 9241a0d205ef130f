import type tap from 'tap';

/**
 * What the fixtures need from a tap test: a place to register cleanup. Both the root `t` of a
 * test file and the `t` of a subtest fit.
 */
export type TestContext = Pick<typeof tap, 'teardown'>;
