import { AckPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { pipelined } from './stats.ts';

export const RAW_STREAM = 'BENCH_RAW';
// Under omoi.>: the node's NATS user (the embedded server's authorization) may publish nothing else.
const SUBJECT = 'omoi.bench.raw.msgs';
const DURABLE = 'bench-raw';

export interface RawResult {
  messages: number;
  payloadBytes: number;
  window: number;
  publishSeconds: number;
  publishPerSec: number;
  consumeSeconds: number;
  consumePerSec: number;
}

/**
 * The floor: what JetStream alone does on this machine. Publishes `n` messages of
 * `payloadBytes` to a file-storage stream with `window` publishes in flight (each awaits its
 * PubAck), then reads them back with a durable pull consumer (`consume()`), acking each.
 * `onFirstMessage` receives the first consumed message (the ack clock needs its prototype).
 * The stream is deleted afterwards.
 */
export async function rawJetStream(
  nc: NatsConnection, js: JetStreamClient,
  opts: { n: number; payloadBytes: number; window: number; progress: (line: string) => void; onFirstMessage?: (m: JsMsg) => void },
): Promise<RawResult> {
  const { n, payloadBytes, window, progress } = opts;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(RAW_STREAM).catch(() => undefined);
  await jsm.streams.add({ name: RAW_STREAM, subjects: [SUBJECT], storage: StorageType.File, retention: RetentionPolicy.Limits, num_replicas: 1 });
  try {
    const payload = new Uint8Array(payloadBytes).fill(0x61);
    progress(`raw: publishing ${n} × ${payloadBytes} B to ${RAW_STREAM} (window ${window})`);
    const t0 = performance.now();
    await pipelined(n, window, (i) => js.publish(SUBJECT, payload, { msgID: `raw-${i}` }), (done) => { if (done % 5000 === 0) progress(`raw: published ${done}/${n}`); });
    const publishSeconds = (performance.now() - t0) / 1000;

    await jsm.consumers.add(RAW_STREAM, { durable_name: DURABLE, ack_policy: AckPolicy.Explicit, max_ack_pending: 10_000 });
    const consumer = await js.consumers.get(RAW_STREAM, DURABLE);
    progress(`raw: consuming ${n} with durable pull consumer ${DURABLE}`);
    const t1 = performance.now();
    const messages = await consumer.consume({ max_messages: 512 });
    let count = 0;
    for await (const m of messages) {
      if (count === 0) opts.onFirstMessage?.(m);
      m.ack();
      if (++count % 5000 === 0) progress(`raw: consumed ${count}/${n}`);
      if (count >= n) break;
    }
    await nc.flush(); // the last acks are on the wire
    const consumeSeconds = (performance.now() - t1) / 1000;
    await messages.close().catch(() => undefined);
    return {
      messages: n, payloadBytes, window,
      publishSeconds, publishPerSec: n / publishSeconds,
      consumeSeconds, consumePerSec: n / consumeSeconds,
    };
  } finally {
    await jsm.streams.delete(RAW_STREAM).catch(() => undefined);
  }
}
