import { errors } from '@nats-io/transport-node';
import { CliError } from '../cli-error.ts';
import { jsonLine, prettyLine } from '../message-line.ts';
import { connectCli, natsTarget } from '../nats-client.ts';

export interface SubOptions {
  natsUrl?: string;
  /** Readable lines instead of JSON lines. */
  pretty?: boolean;
  /** Exit after this many messages. */
  count?: number;
  /** Exit after this many ms; an error if `count` messages have not arrived by then. */
  timeout?: number;
}

/**
 * `omoi sub <pattern>`: a plain NATS subscription (live messages only; it does not replay a
 * stream's history) that writes each message to `out` as one line. Says on stderr when it
 * is listening, so a caller can publish after that. Ends after `count` messages or `timeout`
 * ms, otherwise runs until interrupted. Throws `CliError` when the timeout ends it before
 * `count` messages arrived.
 */
export async function runSub(pattern: string, opts: SubOptions, out: (line: string) => void): Promise<void> {
  const target = natsTarget(opts.natsUrl);
  const url = target.url;
  const nc = await connectCli(target, { reconnect: true });
  let received = 0;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const sub = nc.subscribe(pattern, opts.count ? { max: opts.count } : {});
    await nc.flush();
    process.stderr.write(`omoi: listening on ${pattern} at ${url}\n`);
    if (opts.timeout !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        sub.unsubscribe();
      }, opts.timeout);
    }
    for await (const m of sub) {
      received++;
      out(opts.pretty ? prettyLine(m.subject, m.data) : jsonLine(m.subject, m.data));
    }
  } catch (err) {
    if (err instanceof errors.PermissionViolationError) {
      throw new CliError(`NATS refused the subscription to ${pattern}: this user may not read it (clients may read omoi.evt.> and omoi.errors.>) [nats_permission_denied]`);
    }
    throw err;
  } finally {
    clearTimeout(timer);
    await nc.drain().catch(() => nc.close());
  }
  if (timedOut && opts.count !== undefined && received < opts.count) {
    throw new CliError(`timed out after ${opts.timeout} ms: received ${received} of ${opts.count} messages on ${pattern}`);
  }
}
