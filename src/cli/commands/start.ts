import { startNode, type OmoiNode } from '../../bootstrap.ts';
import { loadConfig } from '../../config/index.ts';
import { ConfigError } from '../../errors.ts';
import { CliError } from '../cli-error.ts';
import { NatsAuthFiles } from '../../embedded/index.ts';
import { NodeFiles } from '../node-files.ts';

export interface StartOptions {
  /** Once the node is up, run the demo ticket on a sample repository (`src/demo/`). */
  demo?: boolean;
  /** With `demo`: no resolver, so the demo's conflict blocks its merge for a person (and raises an alert). */
  demoConflict?: boolean;
  /** Once the node is up, run the spec demo (a goal planned, built and pushed to a bare origin), then stop and exit. */
  specDemo?: boolean;
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

  // The demo runs beside the node; a stop signal ends its wait, and the node stops as usual.
  const demoStop = new AbortController();
  // `npm start` passes `--demo`: `npm start -- --spec-demo` runs the spec demo instead.
  const demo = (opts.demo || opts.demoConflict) && !opts.specDemo ? runDemoOn(node, demoStop.signal, opts.demoConflict ?? false) : Promise.resolve();
  // The spec demo ends the process when it is done: exit 0 when delivered, 1 with the reason otherwise.
  let specDemoFailure: string | undefined;
  if (opts.specDemo) {
    void runSpecDemoOn(node, demoStop.signal).then((failure) => {
      specDemoFailure = failure;
      stopRequested();
    });
  }

  await stopSignal;
  demoStop.abort();
  await demo;
  try {
    await node.stop();
  } catch (err) {
    throw new CliError(`the node did not stop cleanly: ${(err as Error)?.message ?? String(err)}`);
  }
  if (specDemoFailure && !signalled) throw new CliError(`the spec demo did not deliver: ${specDemoFailure}`);
}

/**
 * `--spec-demo`: runs the spec demo and prints its progress on stdout. Resolves with why it
 * did not deliver (undefined: delivered); the caller then stops the node.
 */
async function runSpecDemoOn(node: OmoiNode, signal: AbortSignal): Promise<string | undefined> {
  try {
    const { runSpecDemo } = await import('../../demo/index.ts');
    const outcome = await runSpecDemo(node, { write: (line) => process.stdout.write(line + '\n'), signal });
    if (outcome.status !== 'delivered') return `${outcome.status}: ${outcome.reason ?? 'no reason given'}`;
    process.stdout.write('spec-demo: done; stopping the node.\n');
    return undefined;
  } catch (err) {
    return `could not run the spec demo: ${(err as Error)?.message ?? String(err)}`;
  }
}

/**
 * `--demo`: runs the demo ticket and prints its progress on stdout. Its outcome (completed,
 * failed, blocked, timed out) is reported by the demo itself; an error creating or submitting
 * it is printed as one line. Either way the node keeps running until a stop signal.
 */
async function runDemoOn(node: OmoiNode, signal: AbortSignal, leaveConflict: boolean): Promise<void> {
  try {
    const { runDemo } = await import('../../demo/index.ts');
    await runDemo(node, { write: (line) => process.stdout.write(line + '\n'), signal, ...(leaveConflict ? { resolverCommand: null } : {}) });
  } catch (err) {
    if (!signal.aborted) process.stdout.write(`demo: could not run the demo: ${(err as Error)?.message ?? String(err)} (the node keeps running)\n`);
  }
}

/** The one line `omoi start` prints once the node is up (tests and users look for it). */
export function startLine(node: OmoiNode): string {
  const { config } = node;
  const token = config.apiToken ? 'as configured (OMOI_API_TOKEN)' : `in ${NodeFiles.apiToken(config.dataDir)}`;
  // An embedded nats-server listens on a port of its own choosing, and wants a user: the CLI
  // finds both in the data directory; other clients source the env file.
  const natsHint = config.natsUrl ? '' : ` · NATS client credentials in ${NatsAuthFiles.clientEnv(config.dataDir)} (nats ${node.nc.getServer()})`;
  return `omoi: node ${config.nodeId} started · http ${node.httpUrl} · API token ${token} · watch events: omoi sub 'omoi.evt.>'${natsHint}`;
}
