import { startNode, type OmoiNode } from '../../bootstrap.ts';
import { loadConfig } from '../../config/index.ts';
import { ConfigError } from '../../errors.ts';
import { CliError } from '../cli-error.ts';
import { NodeFiles } from '../node-files.ts';

export interface StartOptions {
  /** Run the demo ticket (not available yet: accepted so `npm start` works). */
  demo?: boolean;
}

/** Exit codes of a forced stop, as a shell reports a death by that signal (128 + number). */
const FORCED_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * `omoi start`: loads the configuration from the environment (and `OMOI_CONFIG`), starts a
 * node, prints one line saying where it is, and runs until SIGINT or SIGTERM. The first
 * signal stops the node gracefully (`node.stop()`, which drains within
 * `OMOI_SHUTDOWN_GRACE_MS` and stops embedded servers); a second one exits at once with
 * 130 / 143. A signal that arrives while the node is still starting stops it as soon as it
 * is up. Throws `ConfigError` (invalid configuration) or whatever `startNode` failed with.
 */
export async function runStart(opts: StartOptions): Promise<void> {
  const config = loadConfig(process.env);
  if (opts.demo) process.stdout.write('demo: not available yet\n');

  let signalled: NodeJS.Signals | undefined;
  let stopRequested!: () => void;
  const stopSignal = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      process.stderr.write(`omoi: ${signal} again: exiting without waiting for the node to stop\n`);
      process.exit(FORCED_EXIT[signal] ?? 1);
    }
    signalled = signal;
    process.stderr.write(`omoi: ${signal}: stopping the node gracefully (send it again to force)\n`);
    stopRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let node: OmoiNode;
  try {
    node = await startNode(config);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new CliError(`could not start the node: ${(err as Error)?.message ?? String(err)}`);
  }
  process.stdout.write(startLine(node) + '\n');

  await stopSignal;
  try {
    await node.stop();
  } catch (err) {
    throw new CliError(`the node did not stop cleanly: ${(err as Error)?.message ?? String(err)}`);
  }
}

/** The one line `omoi start` prints once the node is up (tests and users look for it). */
export function startLine(node: OmoiNode): string {
  const { config } = node;
  const token = config.apiToken ? 'as configured (OMOI_API_TOKEN)' : `in ${NodeFiles.apiToken(config.dataDir)}`;
  // An embedded nats-server listens on a port of its own choosing: say which.
  const natsHint = config.natsUrl ? '' : ` --nats-url nats://${node.nc.getServer()}`;
  return `omoi: node ${config.nodeId} started · http ${node.httpUrl} · API token ${token} · watch events: omoi sub 'omoi.evt.>'${natsHint}`;
}
