/**
 * Soak: "an hour's worth of traffic replayed fast" against a real node whose retention windows
 * are scaled down by the same factor, to show that storage stays flat once the window has passed
 * (`src/persistence/retention.ts`, the work-queue streams of `src/messaging/streams.ts`).
 *
 * Traffic: an hour of `perHour` commands, replayed at `ratePerSec` at most. Each command is an outside
 * `ticket.cancel` on `omoi.in` of an open ticket inserted beforehand (an audit row, a processed
 * id, an event); one in `junkEvery` is a message of an unknown type (a dead letter and an audit
 * row). An operator discards open dead letters older than half a window (open ones are kept
 * until decided). Retentions of processed ids, events, dead letters and audit rows are all one
 * scaled window, `duration / 6`; the processed-id window is set below the streams' duplicate
 * window, which a node's configuration refuses (nothing here is published twice).
 *
 * Samples the row counts and the `OMOI_IN`/`OMOI_PART` streams every quarter window, and reports
 * the counts at one window, two windows and the end of the traffic, the growth (the peak after two
 * windows ÷ the peak between one and two), and the counts one window after the traffic stopped.
 * A node slower than the rate sets the pace (the replay takes longer), and on a busy machine its
 * rate varies, and the counts with it; so the verdict "flat" is rate-free: at every sample after
 * a window, each table holds at most the rows written in the window before it (plus the sweep's
 * lag), and the work queues are empty once the work is done.
 *
 * Standalone: `node --import tsx bench/soak.ts [--quick]`; `npm run bench` runs it too.
 * `SOAK_SWEEP_MS=3600000` turns the sweep off, to see the same traffic without it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startNode, type OmoiNode } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config/index.ts';
import { Streams } from '../src/protocol/index.ts';
import { round } from './stats.ts';

/** Retained tables whose counts must level off. */
const TABLES = ['omoi_processed_message', 'omoi_event', 'omoi_dead_letter', 'omoi_audit'] as const;

export interface SoakSettings { perHour: number; ratePerSec: number; junkEvery: number }
export const soakSettings = (quick: boolean): SoakSettings => ({ perHour: quick ? 1_800 : 18_000, ratePerSec: quick ? 40 : 100, junkEvery: 20 });

interface Sample {
  atMs: number; rows: Record<string, number>; openDeadLetters: number; partMessages: number; partBytes: number; inMessages: number;
  /** Rows written so far per table: those there plus those the sweep deleted. */
  written: Record<string, number>;
}

export interface SoakResult {
  commands: number; junk: number;
  /** Ticks skipped while the node was behind by more than a second of traffic. */
  pausedTicks: number;
  seconds: number; windowMs: number; sweepMs: number; ratePerSec: number;
  samples: Sample[];
  atWindow: Sample; atTwoWindows: Sample; atEnd: Sample; afterStop: Sample;
  /** Per table (and OMOI_PART), the largest count after two windows ÷ the largest between one and two. */
  growth: Record<string, number>;
  /**
   * Per table, the largest share over the samples after one window of rows there ÷ rows written
   * in the window (plus the sweep's lag) before the sample: at most 1 when nothing outlives
   * its retention, whatever the rate; about (elapsed ÷ window) if nothing were deleted.
   */
  keptOfWindow: Record<string, number>;
  flat: boolean;
  deletedBySweep: Record<string, number>;
}

export async function soakBench(opts: SoakSettings & { workDir: string; progress: (line: string) => void }): Promise<SoakResult> {
  const { perHour, ratePerSec, junkEvery, progress } = opts;
  const seconds = perHour / ratePerSec;
  const windowMs = Math.round((seconds * 1000) / 6);
  const sweepMs = Math.max(250, Math.round(windowMs / 5));
  const dataDir = mkdtempSync(path.join(opts.workDir, 'soak-'));
  const config = {
    ...loadConfig({}, {
      dataDir, httpPort: 0, logLevel: "error", nodeId: "soak", apiToken: 'soak', partitions: 16,
      retentionEventsMs: windowMs, retentionDeadLettersMs: windowMs, retentionAuditMs: windowMs, retentionSweepMs: Number(process.env.SOAK_SWEEP_MS ?? sweepMs),
      idlePassivateMs: 2_000,
    }),
    retentionProcessedMs: windowMs, // scaled below the duplicate window on purpose (see above)
  };
  progress(`soak: an hour of ${perHour} commands at ${ratePerSec}/s (${seconds.toFixed(0)} s), retention window ${windowMs} ms, sweep every ${sweepMs} ms`);
  const node = await startNode(config);
  try {
    return await run(node, { perHour, ratePerSec, junkEvery, seconds, windowMs, sweepMs, progress });
  } finally {
    await node.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function run(node: OmoiNode, o: SoakSettings & { seconds: number; windowMs: number; sweepMs: number; progress: (line: string) => void }): Promise<SoakResult> {
  const conn = () => node.db.em().getConnection();
  const jsm = await jetstreamManager(node.nc);
  const commands = o.perHour;
  const ticketId = (i: number) => `soak-t${String(i).padStart(6, '0')}`;
  await conn().execute(`insert into omoi_ticket (id, title, repository, base_branch, base_commit, status, ownership, created_at, updated_at, version)
    select 'soak-t' || lpad(g::text, 6, '0'), 'soak', '/nonexistent/soak-repo', 'main', repeat('a', 40), 'open', 'strict', now(), now(), 1
    from generate_series(0, ? - 1) g`, [commands]);

  const started = Date.now();
  const samples: Sample[] = [];
  const sample = async (): Promise<Sample> => {
    // The operator's part: dead letters older than half a window are decided (discarded).
    await conn().execute(`update omoi_dead_letter set status = 'discarded', resolved_at = now() where status = 'open' and created_at < now() - ?::interval`, [`${Math.round(o.windowMs / 2)} milliseconds`]);
    const [counts] = await conn().execute(`select ${TABLES.map((t) => `(select count(*)::int from ${t}) as ${t}`).join(', ')},
      (select count(*)::int from omoi_dead_letter where status = 'open') as open_dead_letters`) as Array<Record<string, number>>;
    const [part, ingress, deleted] = await Promise.all([jsm.streams.info(Streams.partitions), jsm.streams.info(Streams.ingress), node.metrics.retentionDeleted.get()]);
    const deletedOf = (t: string) => deleted.values.find((v) => v.labels.table === t)?.value ?? 0;
    const s: Sample = {
      atMs: Date.now() - started, rows: Object.fromEntries(TABLES.map((t) => [t, counts![t]!])), openDeadLetters: counts!.open_dead_letters!,
      partMessages: part.state.messages, partBytes: part.state.bytes, inMessages: ingress.state.messages,
      written: Object.fromEntries(TABLES.map((t) => [t, counts![t]! + deletedOf(t)])),
    };
    samples.push(s);
    return s;
  };
  const sampler = setInterval(() => void sample().catch(() => undefined), Math.round(o.windowMs / 4));

  // The traffic: a tick every 100 ms publishes its share, each publish acked by JetStream; a
  // tick is skipped while the work queues hold more than a second of it (a cancel makes a few
  // partition messages more: wakes), so a node slower than the rate sets the pace: the replay
  // then takes longer, and spans more windows.
  let sent = 0;
  let junk = 0;
  let paused = 0;
  const perTick = Math.max(1, Math.round(o.ratePerSec / 10));
  const maxInFlight = o.ratePerSec;
  let lastProgress = started;
  while (sent < commands) {
    const tickStart = Date.now();
    if ((await queued(jsm)) <= maxInFlight) {
      const batch: Array<Promise<unknown>> = [];
      for (const due = Math.min(commands, sent + perTick); sent < due; sent++) {
        if (sent % o.junkEvery === 0) {
          junk++;
          batch.push(node.js.publish(`omoi.in.soak.junk${sent}`, '{}', { msgID: randomUUID() }));
        }
        batch.push(node.js.publish('omoi.in.ticket.cancel', JSON.stringify({ ticket_id: ticketId(sent) }), { msgID: randomUUID() }));
      }
      await Promise.all(batch);
    } else {
      paused++;
    }
    if (tickStart - lastProgress >= 10_000) {
      lastProgress = tickStart;
      o.progress(`soak: ${sent}/${commands} sent after ${((tickStart - started) / 1000).toFixed(0)} s`);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tickStart))));
  }
  const trafficSeconds = (Date.now() - started) / 1000;
  const atEnd = await sample();
  clearInterval(sampler);
  o.progress(`soak: traffic done in ${trafficSeconds.toFixed(1)} s; waiting one window after it`);
  await new Promise((r) => setTimeout(r, o.windowMs + 2 * o.sweepMs));
  const afterStop = await sample();

  const nearest = (ms: number) => samples.reduce((best, s) => (Math.abs(s.atMs - ms) < Math.abs(best.atMs - ms) ? s : best));
  const atWindow = nearest(o.windowMs);
  const atTwoWindows = nearest(2 * o.windowMs);
  // Largest count of the samples between one and two windows (the plateau), and after two windows.
  const during = samples.filter((s) => s.atMs >= o.windowMs && s.atMs <= 2 * o.windowMs);
  const later = samples.filter((s) => s.atMs > 2 * o.windowMs && s.atMs <= atEnd.atMs);
  const peak = (xs: Sample[], f: (s: Sample) => number) => Math.max(1, ...xs.map(f));
  const ratio = (f: (s: Sample) => number) => round(peak(later, f) / peak(during, f), 3);
  const growth: Record<string, number> = Object.fromEntries(TABLES.map((t) => [t, ratio((s) => s.rows[t]!)]));
  growth.OMOI_PART = ratio((s) => s.partMessages);
  // A stream near empty is flat whatever its ratio (a handful of messages in flight).
  // What a sample may hold: rows written since one window ago, plus the sweep's lag (two
  // intervals and a second); a dead letter also waits up to half a window and a sample for its operator.
  const keptOfWindow: Record<string, number> = {};
  for (const t of TABLES) {
    const lagMs = o.windowMs + 2 * o.sweepMs + 1_000 + (t === 'omoi_dead_letter' ? (3 * o.windowMs) / 4 : 0);
    let worst = 0;
    for (const s of samples.filter((x) => x.atMs >= lagMs && x.atMs <= atEnd.atMs)) {
      const before = samples.filter((x) => x.atMs <= s.atMs - lagMs).at(-1);
      if (!before) continue;
      worst = Math.max(worst, s.rows[t]! / Math.max(1, s.written[t]! - before.written[t]!));
    }
    keptOfWindow[t] = round(worst, 3);
  }
  // Bounded: no row outlives its window (the rate of this machine varies: the growth is shown, not
  // judged), and the work queues keep nothing once the work is done (acked messages go).
  const flat = TABLES.every((t) => keptOfWindow[t]! <= 1) && afterStop.partMessages === 0 && afterStop.inMessages === 0;
  const metrics = await node.metrics.retentionDeleted.get();
  const deletedBySweep = Object.fromEntries(metrics.values.map((v) => [String(v.labels.table), v.value]));
  return {
    commands, junk, pausedTicks: paused, seconds: round(trafficSeconds, 1), windowMs: o.windowMs, sweepMs: o.sweepMs, ratePerSec: o.ratePerSec,
    samples, atWindow, atTwoWindows, atEnd, afterStop, growth, keptOfWindow, flat, deletedBySweep,
  };
}

/** Messages waiting in the work queues (`OMOI_IN`, `OMOI_PART`). */
async function queued(jsm: JetStreamManager): Promise<number> {
  const [ingress, part] = await Promise.all([jsm.streams.info(Streams.ingress), jsm.streams.info(Streams.partitions)]);
  return ingress.state.messages + part.state.messages;
}

/** Table rows of the report: counts at one window, two windows, the end, and after. */
export function soakRows(r: SoakResult): Array<{ measure: string; value: number; unit: string; detail: string }> {
  const rows = TABLES.map((t) => ({
    measure: `soak: ${t} rows at the end`, value: r.atEnd.rows[t]!, unit: 'rows',
    detail: `at 1 window ${r.atWindow.rows[t]}, 2 windows ${r.atTwoWindows.rows[t]}, end ${r.atEnd.rows[t]} (peak after 2 windows ×${r.growth[t]} the peak before); a window after ${r.afterStop.rows[t]}; swept ${r.deletedBySweep[t] ?? 0}; at most ×${r.keptOfWindow[t]} of a window's rows`,
  }));
  return [
    ...rows,
    { measure: 'soak: OMOI_PART messages at the end', value: r.atEnd.partMessages, unit: 'msgs', detail: `${r.atEnd.partBytes} B; at 1 window ${r.atWindow.partMessages}, 2 windows ${r.atTwoWindows.partMessages}; OMOI_IN ${r.atEnd.inMessages}; a window after ${r.afterStop.partMessages}` },
    { measure: 'soak: storage flat after the retention window', value: r.flat ? 1 : 0, unit: 'bool', detail: `${r.commands} commands + ${r.junk} junk in ${r.seconds} s (an hour's worth), window ${r.windowMs} ms; no row outlived its window, queues bounded → ${r.flat ? 'MET' : 'NOT MET'}` },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'omoi-soak-'));
  const progress = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
  soakBench({ ...soakSettings(quick), workDir, progress })
    .then((r) => {
      console.table(soakRows(r));
      console.log(JSON.stringify({ bench: 'omoi-soak', quick, ...r }));
    })
    .finally(() => rmSync(workDir, { recursive: true, force: true }))
    .then(() => process.exit(0), (err) => {
      console.error(`soak failed: ${(err as Error).stack ?? err}`);
      process.exit(1);
    });
}
