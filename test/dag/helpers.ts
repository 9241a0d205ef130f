import { TerminalError } from '../../src/errors.ts';
import type { TaskSpec } from '../../src/dag/index.ts';

/** A minimal valid task; only the id and dependencies matter to the DAG logic. */
export function task(id: string, depends_on: string[] = []): TaskSpec {
  return {
    id,
    depends_on,
    owns: [],
    capabilities: [],
    phase: 'implementation',
    priority: 0,
    kind: 'command',
    run: 'true',
    max_retries: 0,
    timeout_ms: 60_000,
  };
}

/** The TerminalError `fn` throws; anything else (or nothing) fails the calling test. */
export function thrown(fn: () => unknown): TerminalError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TerminalError) return err;
    throw err;
  }
  throw new Error('expected a TerminalError, but nothing was thrown');
}

/** Deterministic shuffle (mulberry32), so a failing order can be reproduced from its seed. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const random = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
