/**
 * Crash injection for durability tests, in the spirit of FoundationDB's failpoints: when
 * `OMOI_FAILPOINT=<name>[:<message type>]` is set, reaching that point kills this process with
 * SIGKILL — no cleanup, exactly like `kill -9`. Unset (always, in production) it does nothing.
 */
const spec = process.env.OMOI_FAILPOINT;

export function failpoint(name: string, type?: string): void {
  if (!spec) return;
  const [point, onlyType] = spec.split(':');
  if (point !== name) return;
  if (onlyType && onlyType !== type) return;
  process.kill(process.pid, 'SIGKILL');
}
