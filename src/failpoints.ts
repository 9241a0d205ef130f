/**
 * Crash injection for durability tests, in the spirit of FoundationDB's failpoints. Two kinds,
 * both inert in production (nothing sets the variable, nothing arms a point):
 * - **kill**: when `OMOI_FAILPOINT=<name>[:<message type>]` is set, reaching that point kills
 *   this process with SIGKILL — no cleanup, exactly like `kill -9`.
 * - **crash**: `armCrash(name, times)` (an in-process test) makes the next `times` passes through
 *   `name` throw a `FailpointCrash`, an ordinary (retryable) error: the actor that reaches it
 *   crashes into its supervision as it would on any unexpected error.
 */
const spec = process.env.OMOI_FAILPOINT;
const armed = new Map<string, number>();

/** The error an armed crash failpoint throws. Not terminal: supervision restarts the actor. */
export class FailpointCrash extends Error {
  override name = 'FailpointCrash';
  constructor(readonly point: string) {
    super(`failpoint ${point} crashed`);
  }
}

export function failpoint(name: string, type?: string): void {
  const left = armed.get(name);
  if (left !== undefined) {
    if (left <= 1) armed.delete(name);
    else armed.set(name, left - 1);
    throw new FailpointCrash(name);
  }
  if (!spec) return;
  const [point, onlyType] = spec.split(':');
  if (point !== name) return;
  if (onlyType && onlyType !== type) return;
  process.kill(process.pid, 'SIGKILL');
}

/** Makes the next `times` passes through `name` throw (`Infinity`: until disarmed). Returns the disarm function. */
export function armCrash(name: string, times: number): () => void {
  armed.set(name, times);
  return () => void armed.delete(name);
}
