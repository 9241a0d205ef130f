/** A random number generator in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a small seeded PRNG for property tests, so a failing case can be replayed from
 * its seed (tests print the seed with each case).
 */
export function seededRandom(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
