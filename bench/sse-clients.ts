// N clients of GET /api/events/stream in their own process (so reading them does not compete
// with the node's event loop), for bench/sse.ts. argv[2]: JSON { url, token, clients }.
// Prints `open` once every stream answered 200; on stdin `report\n` prints one JSON line
// { delayMs: { p50, p99, max, samples }, events, ended } and exits. The delay of an event is its receipt here minus the
// `time` of its envelope (the clocks are the same machine's).
import http from 'node:http';
import readline from 'node:readline';
import { percentile } from './stats.ts';

const { url, token, clients } = JSON.parse(process.argv[2] ?? '{}') as { url: string; token: string; clients: number };
const delaysMs: number[] = [];
let events = 0;
let ended = 0;
const TIME = /"time":"([^"]+)"/;

function open(): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/api/events/stream`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream answered ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const now = Date.now();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const time = TIME.exec(block);
          if (!time) continue;
          events++;
          delaysMs.push(now - Date.parse(time[1]!));
        }
      });
      res.on('close', () => { ended++; });
      resolve();
    });
    req.on('error', reject);
  });
}

await Promise.all(Array.from({ length: clients }, open));
process.stdout.write('open\n');
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line.trim() === 'report') {
    const delayMs = { p50: percentile(delaysMs, 50), p99: percentile(delaysMs, 99), max: delaysMs.reduce((a, b) => Math.max(a, b), 0), samples: delaysMs.length };
    // Exits once the line is written (a pipe is written asynchronously).
    process.stdout.write(`${JSON.stringify({ delayMs, events, ended })}\n`, () => process.exit(0));
    break;
  }
}
