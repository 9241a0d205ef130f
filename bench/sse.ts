/**
 * Server push under load (issue 10): `clients` open `/api/events/stream` clients (in their own
 * process, bench/sse-clients.ts) on one node while a 1 → `fanOut` → 1 ticket runs on it.
 * Measures
 *   - API reads during the run: GET /api/tickets/:id and GET /api/events?tail=1, one after
 *     the other in a loop, each timed (p50, p99);
 *   - event-push delay: receipt by a client minus the event's envelope `time` (the time of the
 *     transaction that made it), over every event every client got (p50, p99).
 * Run alone: `node --import tsx bench/sse.ts [--quick]` (its own node), or as part of `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startNode, type OmoiNode } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config/index.ts';
import { runFanOut } from './dag-fanout.ts';
import { makeRepo } from './dag-shared.ts';
import { Subjects } from '../src/protocol/index.ts';
import { percentile, round } from './stats.ts';

export interface SseBenchResult {
  clients: number;
  fanOut: number;
  ticketSeconds: number;
  /** Events received, summed over the clients; and per client (they should all get the same). */
  eventsReceived: number;
  eventsPerClient: number;
  /** Streams that ended during the run (slow clients disconnected, errors): should be 0. */
  streamsEnded: number;
  pushDelayMs: { p50: number; p99: number; max: number; samples: number };
  /** The same events' delay to a plain NATS subscriber of `omoi.evt.>` in the bench process: what the stream adds is the difference. */
  natsDelayMs: { p50: number; p99: number; samples: number };
  apiReadMs: { ticket: { p50: number; p99: number; samples: number }; events: { p50: number; p99: number; samples: number } };
}

export function sseBenchSizes(quick: boolean): { clients: number; fanOut: number } {
  return quick ? { clients: 50, fanOut: 50 } : { clients: 200, fanOut: 200 };
}

export async function sseBench(
  node: OmoiNode,
  opts: { clients: number; fanOut: number; workDir: string; timeoutMs: number; progress: (line: string) => void },
): Promise<SseBenchResult> {
  const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/sse-clients.ts'), JSON.stringify({ url: node.httpUrl, token: node.apiToken, clients: opts.clients })], {
    cwd: root, stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.value !== 'open') throw new Error(`the SSE clients did not open: ${String(first.value)}`);
    opts.progress(`sse: ${opts.clients} event streams open; running 1→${opts.fanOut}→1`);

    const natsMs: number[] = [];
    const sub = node.nc.subscribe(Subjects.eventsAll, {
      callback: (_err, m) => {
        const time = /"time":"([^"]+)"/.exec(new TextDecoder().decode(m.data));
        if (time) natsMs.push(Date.now() - Date.parse(time[1]!));
      },
    });
    const ticketMs: number[] = [];
    const eventsMs: number[] = [];
    const ticket = `SSE-${Date.now().toString(36)}`;
    let running = true;
    const headers = { authorization: `Bearer ${node.apiToken}` };
    const timed = async (url: string, into: number[]) => {
      const t0 = performance.now();
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      if (res.status >= 500) throw new Error(`${url} answered ${res.status}`);
      into.push(performance.now() - t0);
    };
    const reader = (async () => {
      while (running) {
        await timed(`${node.httpUrl}/api/tickets/${ticket}`, ticketMs);
        await timed(`${node.httpUrl}/api/events?tail=1&limit=100`, eventsMs);
      }
    })();
    const repoDir = await makeRepo(opts.workDir, { 'README.md': 'sse bench\n' });
    const t0 = performance.now();
    try {
      await runFanOut(node, { ticket, n: opts.fanOut, repoDir, timeoutMs: opts.timeoutMs });
    } finally {
      running = false;
      await reader;
    }
    const ticketSeconds = (performance.now() - t0) / 1000;
    // The last events (ticket.completed) reach the clients just after the ticket's row.
    await new Promise((r) => setTimeout(r, 1_000));
    sub.unsubscribe();
    child.stdin!.write('report\n');
    const report = await lines.next();
    const { delayMs, events, ended } = JSON.parse(String(report.value)) as { delayMs: { p50: number; p99: number; max: number; samples: number }; events: number; ended: number };
    const stat = (xs: number[]) => ({ p50: round(percentile(xs, 50), 1), p99: round(percentile(xs, 99), 1), samples: xs.length });
    const result: SseBenchResult = {
      clients: opts.clients, fanOut: opts.fanOut, ticketSeconds: round(ticketSeconds, 2),
      eventsReceived: events, eventsPerClient: round(events / opts.clients, 1), streamsEnded: ended,
      pushDelayMs: { p50: round(delayMs.p50, 1), p99: round(delayMs.p99, 1), max: round(delayMs.max, 1), samples: delayMs.samples }, natsDelayMs: stat(natsMs),
      apiReadMs: { ticket: stat(ticketMs), events: stat(eventsMs) },
    };
    opts.progress(`sse: push delay p50 ${result.pushDelayMs.p50} ms p99 ${result.pushDelayMs.p99} ms; API read p99 ${result.apiReadMs.ticket.p99} / ${result.apiReadMs.events.p99} ms`);
    return result;
  } finally {
    child.kill();
  }
}

/** Rows of the benchmark's table. */
export function sseBenchRows(r: SseBenchResult): Array<{ measure: string; value: number; unit: string; detail: string }> {
  const during = `${r.clients} SSE clients open, 1→${r.fanOut}→1 running (${r.ticketSeconds} s)`;
  return [
    { measure: 'SSE: event-push delay p50', value: r.pushDelayMs.p50, unit: 'ms', detail: `envelope time → receipt by a client; ${r.pushDelayMs.samples} deliveries (${r.eventsPerClient} events per client); ${during}` },
    { measure: 'SSE: event-push delay p99', value: r.pushDelayMs.p99, unit: 'ms', detail: `max ${r.pushDelayMs.max} ms; streams ended during the run: ${r.streamsEnded}` },
    { measure: 'SSE: same events to a NATS subscriber p50 / p99', value: r.natsDelayMs.p50, unit: 'ms', detail: `p99 ${r.natsDelayMs.p99} ms: envelope time → a core subscription of omoi.evt.> (commit and outbox publish); the stream adds the rest` },
    { measure: 'SSE: API read GET /api/tickets/:id p50', value: r.apiReadMs.ticket.p50, unit: 'ms', detail: `${r.apiReadMs.ticket.samples} reads; ${during}` },
    { measure: 'SSE: API read GET /api/tickets/:id p99', value: r.apiReadMs.ticket.p99, unit: 'ms', detail: '' },
    { measure: 'SSE: API read GET /api/events?tail=1 p50', value: r.apiReadMs.events.p50, unit: 'ms', detail: `${r.apiReadMs.events.samples} reads of 100 events` },
    { measure: 'SSE: API read GET /api/events?tail=1 p99', value: r.apiReadMs.events.p99, unit: 'ms', detail: '' },
  ];
}

// Alone: its own node (embedded nats-server and PostgreSQL) in a temp dir.
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const quick = process.argv.includes('--quick');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'omoi-bench-sse-'));
  const progress = (line: string) => console.log(line);
  let node: OmoiNode | undefined;
  try {
    node = await startNode(loadConfig({}, { dataDir, httpPort: 0, logLevel: 'warn', nodeId: 'bench-sse', apiToken: 'bench', localAgentCapacity: 64 }));
    const result = await sseBench(node, { ...sseBenchSizes(quick), workDir: dataDir, timeoutMs: 300_000, progress });
    console.table(sseBenchRows(result));
    console.log(JSON.stringify({ bench: 'omoi-sse', quick, sse: result }));
  } finally {
    await node?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
