// One Omoi node in its own process, for the multi-node benchmarks (bench/cluster-nodes.ts).
// argv[2]: JSON config overrides. Prints `ready` on stdout once started. Stops on SIGTERM; exits
// when its stdin closes (the bench that started it is gone, even by SIGKILL), so no node outlives
// its bench. Logs at `logLevel` go to stderr.
import { startNode } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config/index.ts';

const node = await startNode(loadConfig({}, JSON.parse(process.argv[2] ?? '{}')));
process.stdout.write('ready\n');
let stopping: Promise<void> | undefined;
const stop = () => (stopping ??= node.stop().finally(() => process.exit(0)));
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
