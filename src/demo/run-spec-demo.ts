import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Subscription } from '@nats-io/nats-core';
import type { OmoiNode } from '../bootstrap.ts';
import { errorMessage } from '../errors.ts';
import { executionTicketId } from '../spec/phases.ts';
import { demoTicketId } from './demo-ticket.ts';
import { git } from './git.ts';
import { describeEvent, elapsed, type DemoEvent } from './progress.ts';
import { ensureSampleRepo } from './sample-repo.ts';
import { demoPlannerCommand } from './spec-planner.ts';

/** The goal the spec demo plans (the planner's DAG for the sample repository serves it). */
export const SPEC_DEMO_GOAL = 'Export orders as CSV and search the catalogue, both offered from one entry point and documented';

export interface SpecDemoOptions {
  /** Prints one line (without its newline). */
  write(line: string): void;
  /** Longest wait for the spec to be delivered, ms (default 5 minutes). */
  timeoutMs?: number;
  /** Stops waiting (the node is stopping); the outcome is then `aborted`. */
  signal?: AbortSignal;
  /** The spec id (default `demo-<UTC timestamp>`: a new spec each run). */
  specId?: string;
  /** The sample repository (default `<dataDir>/demo/sample-repo`, shared with `--demo`; reused if there). */
  sampleRepoDir?: string;
  /** The bare repository the branch is pushed to (default `<dataDir>/demo/origin.git`; created if missing). */
  originDir?: string;
}

/** How the spec demo ended: `delivered` is the only success. */
export type SpecDemoStatus = 'delivered' | 'blocked' | 'failed' | 'delivery_failed' | 'timed_out' | 'aborted';

export interface SpecDemoOutcome {
  specId: string;
  status: SpecDemoStatus;
  reason?: string;
  /** The work ticket (`spec-<spec>-exec-v1`). */
  ticketId: string;
  /** Its final head, when the spec completed. */
  head?: string;
  /** The branch pushed to the origin and the commit it is at, when delivered. */
  branch?: string;
  pushed?: string;
  sampleRepo: string;
  origin: string;
}

type Row = Record<string, any>;
type Ended = Pick<SpecDemoOutcome, 'status' | 'reason'>;

/**
 * `omoi start --spec-demo`, once the node is up: a goal becomes a delivered branch, unattended.
 * Creates (or reuses) the sample repository and a bare "origin" under `<dataDir>/demo/`, sends
 * `spec.create` with the deterministic planner (src/demo/spec-planner.mjs) and a `delivery` to
 * the origin, and prints one line per step: the goal, the findings, the requirements, the
 * design, the DAG, then the work ticket's split, joins and merges (the `--demo` narration), and
 * the push. Resolves once the branch is in the origin (`delivered`) or with why not; never
 * throws for a spec that did not get there; bounded by `timeoutMs`, and the database is polled
 * so a missed event cannot stall it.
 */
export async function runSpecDemo(node: OmoiNode, opts: SpecDemoOptions): Promise<SpecDemoOutcome> {
  const { write } = opts;
  const timeoutMs = opts.timeoutMs ?? 5 * 60_000;
  const dataDir = path.resolve(node.config.dataDir);
  const specId = opts.specId ?? demoTicketId();
  const ticketId = executionTicketId(specId, 1);
  const repo = await ensureSampleRepo(path.resolve(opts.sampleRepoDir ?? path.join(dataDir, 'demo', 'sample-repo')));
  const origin = await ensureBareOrigin(path.resolve(opts.originDir ?? path.join(dataDir, 'demo', 'origin.git')));
  const sql = (query: string, params: unknown[] = []) => node.db.em().getConnection().execute(query, params) as Promise<Row[]>;

  write(`spec-demo: sample repository ${repo.dir} (main at ${repo.commit.slice(0, 7)}); origin ${origin} (bare)`);
  write(`spec-demo: spec ${specId}, planned by ${path.relative(process.cwd(), new URL('./spec-planner.mjs', import.meta.url).pathname)} (deterministic, offline), delivered to the origin`);

  const started = Date.now();
  const line = (text: string) => write(`${elapsed(Date.now() - started)} ${text}`);
  let settle!: (o: Ended) => void;
  const ended = new Promise<Ended>((resolve) => (settle = resolve));
  let done = false;
  const finish = (o: Ended) => {
    if (!done) (done = true), settle(o);
  };
  let titles: Record<string, string> = {};

  // Events of the spec and of its work ticket, narrated in arrival order.
  let queue = Promise.resolve();
  const onEvent = async (e: DemoEvent) => {
    if (done) return;
    const p = e.payload;
    if (p.spec_id === specId && e.type.startsWith('spec.')) {
      const text = await describeSpecEvent(e, sql);
      if (text) line(text);
      if (e.type === 'spec.blocked') finish({ status: 'blocked', reason: p.reason });
      if (e.type === 'spec.failed') finish({ status: 'failed', reason: p.reason });
      return;
    }
    if (p.ticket_id !== ticketId) return;
    if (e.type === 'ticket.created') titles = await taskTitles(sql, ticketId);
    const text = describeEvent(e, { titles });
    if (text) line(text);
    if (e.type === 'ticket.delivering') line(`pushing ${p.head.slice(0, 7)} to origin as ${p.branch}`);
    if (e.type === 'ticket.delivered') line(`pushed to origin ${await deliveredBranch(sql, ticketId)} at ${p.commit.slice(0, 7)}`);
    if (e.type === 'ticket.delivered') finish({ status: 'delivered' });
    if (e.type === 'ticket.delivery_failed') finish({ status: 'delivery_failed', reason: p.error });
  };
  const sub: Subscription = node.nc.subscribe('omoi.evt.>', {
    callback: (err, msg) => {
      if (err) return;
      let env: DemoEvent;
      try {
        env = JSON.parse(new TextDecoder().decode(msg.data)) as DemoEvent;
      } catch {
        return;
      }
      if (env?.payload?.spec_id !== specId && env?.payload?.ticket_id !== ticketId) return;
      queue = queue.then(() => onEvent(env)).catch((e) => line(`(could not describe ${env.type}: ${errorMessage(e)})`));
    },
  });

  // The database is the record: the poll sees the end even if an event was missed.
  let seenEnd = 0;
  const poll = setInterval(() => void (async () => {
    const [spec] = await sql('select status, reason from omoi_spec where id = ?', [specId]);
    const [ticket] = await sql('select delivery_status, delivery_error from omoi_ticket where id = ?', [ticketId]);
    const end: Ended | undefined = spec?.status === 'blocked' || spec?.status === 'failed' ? { status: spec.status, reason: spec.reason }
      : ticket?.delivery_status === 'delivered' ? { status: 'delivered' }
      : ticket?.delivery_status === 'failed' ? { status: 'delivery_failed', reason: ticket.delivery_error ?? undefined }
      : undefined;
    if (!end || ++seenEnd < 2) return; // give the events a moment to be printed first
    await queue;
    finish(end);
  })().catch(() => undefined), 1000);
  const timer = setTimeout(() => finish({ status: 'timed_out', reason: `the spec was not delivered within ${Math.round(timeoutMs / 1000)}s` }), timeoutMs);
  const onAbort = () => finish({ status: 'aborted', reason: 'the node is stopping' });
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  let result: Ended;
  try {
    await node.submit('spec.create', {
      spec_id: specId, title: `Spec demo: ${SPEC_DEMO_GOAL}`, repository: repo.dir, base_branch: 'main', goal: SPEC_DEMO_GOAL,
      planner: 'command', planner_command: demoPlannerCommand(), delivery: { remote: origin },
    }, { id: `spec-demo-create:${specId}` });
    result = await ended;
  } finally {
    clearInterval(poll);
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    sub.unsubscribe();
  }
  await queue;
  const [spec] = await sql('select head from omoi_spec where id = ?', [specId]).catch(() => []);
  const outcome: SpecDemoOutcome = { specId, ticketId, sampleRepo: repo.dir, origin, ...result, ...(spec?.head ? { head: spec.head } : {}) };
  if (outcome.status === 'delivered') {
    outcome.branch = await deliveredBranch(sql, ticketId);
    outcome.pushed = await git(origin, ['rev-parse', `refs/heads/${outcome.branch}`]);
    write(`spec-demo: spec ${specId} completed and delivered in ${((Date.now() - started) / 1000).toFixed(1)}s: ${origin} has ${outcome.branch} at ${outcome.pushed.slice(0, 7)}`);
    write(`spec-demo: look at it: git -C ${origin} log --graph --oneline ${outcome.branch}`);
    write(`spec-demo: the spec and its artifacts, with a node started on this data directory (npm start): omoi spec show ${specId}, or its page /#/specs/${specId}`);
  } else if (outcome.status !== 'aborted') {
    write(`spec-demo: the spec was not delivered: ${outcome.status.toUpperCase()} — ${outcome.reason ?? 'no reason given'}`);
    write(`spec-demo: see why, with a node started on this data directory (npm start): omoi spec show ${specId}`);
  }
  return outcome;
}

/** A bare repository at `dir` (created when missing): the demo's "origin". */
async function ensureBareOrigin(dir: string): Promise<string> {
  if (!existsSync(path.join(dir, 'HEAD'))) {
    await mkdir(dir, { recursive: true });
    await git(dir, ['init', '--quiet', '--bare', '--initial-branch=main']);
  }
  return dir;
}

/** One line for a spec event, the phase's artifact summed up from its row; undefined for the rest. */
async function describeSpecEvent(e: DemoEvent, sql: (q: string, p?: unknown[]) => Promise<Row[]>): Promise<string | undefined> {
  const p = e.payload;
  const body = async () => (await sql('select body from omoi_spec_artifact where spec_id = ? and phase = ? and version = ?', [p.spec_id, p.phase, p.version]))[0]?.body as any;
  switch (e.type) {
    case 'spec.created': return `goal: ${p.goal}`;
    case 'spec.phase_started': return p.attempt > 1 ? `${p.phase}: run ${p.attempt} (the gate's findings given)` : undefined;
    case 'spec.gate_failed': return `${p.phase}: gate not met: ${p.findings.map((f: any) => f.code).join(', ')}`;
    case 'spec.blocked': return `spec BLOCKED in ${p.phase}: ${p.reason}`;
    case 'spec.failed': return `spec FAILED: ${p.reason}`;
    case 'spec.completed': return `spec completed: the work ticket ${p.ticket_id} completed at ${String(p.head ?? '?').slice(0, 7)}`;
    case 'spec.executing': return `ticket ${p.ticket_id} running: the DAG's tasks ${p.tasks.join(', ')}`;
    case 'spec.phase_passed': {
      if (p.phase === 'SYNC') return undefined; // spec.executing, next, says it
      const a = await body();
      if (!a) return `${p.phase} passed`;
      switch (p.phase) {
        case 'EXPLORE': return `findings: ${a.files.length} files read (${a.files.join(', ')}); ${a.findings.join('; ')}`;
        case 'REQUIREMENTS': return `requirements (${a.requirements.length}): ${a.requirements.map((r: any) => `${r.id} ${r.title}`).join('; ')}`;
        case 'DESIGN': return `design: ${a.components.length} components (${a.components.map((c: any) => c.name).join(', ')}): ${a.summary}`;
        case 'TASKS': {
          const joins = a.tasks.filter((x: any) => x.depends_on.length > 1);
          return `DAG: ${a.tasks.length} tasks (${a.tasks.map((x: any) => `${x.id}${x.depends_on.length ? `←${x.depends_on.join('+')}` : ''}`).join(', ')}), ${joins.length} join${joins.length === 1 ? '' : 's'} (${joins.map((x: any) => `join-${x.id}`).join(', ') || 'none'})`;
        }
        default: return `${p.phase} passed`;
      }
    }
    default: return undefined;
  }
}

async function taskTitles(sql: (q: string, p?: unknown[]) => Promise<Row[]>, ticketId: string): Promise<Record<string, string>> {
  const rows = await sql('select id, spec from omoi_task where ticket_id = ?', [ticketId]).catch(() => []);
  return Object.fromEntries(rows.map((r) => [r.id, r.spec?.title ?? r.id]));
}

/** The branch the work ticket is delivered as (its `delivery.branch`, default `omoi/<ticket>`). */
async function deliveredBranch(sql: (q: string, p?: unknown[]) => Promise<Row[]>, ticketId: string): Promise<string> {
  const [row] = await sql('select delivery from omoi_ticket where id = ?', [ticketId]);
  return row?.delivery?.branch ?? `omoi/${ticketId}`;
}
