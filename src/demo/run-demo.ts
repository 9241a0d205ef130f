import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Subscription } from '@nats-io/nats-core';
import type { OmoiNode } from '../bootstrap.ts';
import { errorMessage } from '../errors.ts';
import { demoTicket, demoTicketId, RESOLVER_SCRIPT, shellQuote } from './demo-ticket.ts';
import { git } from './git.ts';
import { describeEvent, elapsed, type DemoEvent } from './progress.ts';
import { ensureSampleRepo } from './sample-repo.ts';

export interface DemoOptions {
  /** Prints one line (without its newline). */
  write(line: string): void;
  /** Longest wait for the ticket to end, ms (default 5 minutes). */
  timeoutMs?: number;
  /** Interval of the "still waiting" lines, ms (default 30 s). */
  heartbeatMs?: number;
  /** Stops waiting (the node is stopping); the outcome is then `aborted`. */
  signal?: AbortSignal;
  /** The ticket id (default `demo-<UTC timestamp>`: a new ticket each run). */
  ticketId?: string;
  /**
   * The ticket's resolver command (default: `node src/demo/resolve-features.mjs`); `null`: none,
   * so join-G's conflict is left to a person (`omoi start --demo --demo-conflict`).
   */
  resolverCommand?: string | null;
  /** Where the sample repository is (default `<dataDir>/demo/sample-repo`); an existing one is reused. */
  sampleRepoDir?: string;
}

/** How the demo ended. `blocked`: a task is blocked (e.g. an unresolved merge), the ticket still open. */
export type DemoStatus = 'completed' | 'failed' | 'cancelled' | 'blocked' | 'rejected' | 'timed_out' | 'aborted';

export interface DemoOutcome {
  ticketId: string;
  status: DemoStatus;
  /** Why it did not complete (the ticket's or the blocked task's reason). */
  reason?: string;
  /** The final head of `omoi/<ticket>` when completed. */
  head?: string;
  /** The sample repository the ticket works on. */
  sampleRepo: string;
  /** Omoi's clone of it, where the ticket and task branches are (`<dataDir>/repos/<ticket>`). */
  clone: string;
}

type Row = Record<string, any>;
const TERMINAL_TICKET = new Set(['completed', 'failed', 'cancelled']);
const ACTIVE_TASK = new Set(['ready', 'assigned', 'running', 'waiting_for_files']);

/**
 * `omoi start --demo`, once the node is up: creates (or reuses) the sample repository under
 * `<dataDir>/demo/sample-repo`, submits the demo ticket through `node.submit` as any client
 * would, and prints one line per step from the event stream (`omoi.evt.>`) with the elapsed
 * time — tasks ready/running/completed, claims granted/waiting, joins collecting/synthesized/
 * merged, merge attempts (order, conflicts, resolutions), the ticket's end. At the end it prints
 * the history of `omoi/<ticket>` (`git log --graph`) and where to look next (dashboard,
 * `omoi sub`, the joins' merge commits).
 *
 * Never hangs: the wait is bounded by `timeoutMs`, with a "still waiting" line every
 * `heartbeatMs`; the database is polled as well, so a missed event cannot stall it. A failed,
 * blocked, rejected or timed-out demo is reported with its reason and how to inspect it, and
 * resolves (never throws for it); the node is left running either way. Throws only if the
 * sample repository cannot be created or the ticket cannot be submitted.
 */
export async function runDemo(node: OmoiNode, opts: DemoOptions): Promise<DemoOutcome> {
  const { write } = opts;
  const timeoutMs = opts.timeoutMs ?? 5 * 60_000;
  const heartbeatMs = opts.heartbeatMs ?? 30_000;
  const dataDir = path.resolve(node.config.dataDir);
  const ticketId = opts.ticketId ?? demoTicketId();
  const repo = await ensureSampleRepo(path.resolve(opts.sampleRepoDir ?? path.join(dataDir, 'demo', 'sample-repo')));
  const clone = path.join(dataDir, 'repos', ticketId);
  const ticket = demoTicket(ticketId, repo.dir, opts.resolverCommand);
  const titles = Object.fromEntries(ticket.tasks.map((t) => [t.id, t.title]));
  const sql = (query: string, params: unknown[] = []) => node.db.em().getConnection().execute(query, params) as Promise<Row[]>;

  write(`demo: sample repository ${repo.dir} (main at ${repo.commit.slice(0, 7)})`);
  write(`demo: submitting ticket ${ticketId}: A → B ∥ C ∥ H → D (join), A → E ∥ F → G (join); ownership lenient; ${opts.resolverCommand === null ? 'no resolver: the config.py conflict is left to you' : `resolver ${opts.resolverCommand ?? path.relative(process.cwd(), RESOLVER_SCRIPT)}`}`);

  const started = Date.now();
  const line = (text: string) => write(`${elapsed(Date.now() - started)} ${text}`);
  let settle!: (o: Omit<DemoOutcome, 'ticketId' | 'sampleRepo' | 'clone'>) => void;
  const ended = new Promise<Omit<DemoOutcome, 'ticketId' | 'sampleRepo' | 'clone'>>((resolve) => (settle = resolve));
  let done = false;
  const finish = (o: Omit<DemoOutcome, 'ticketId' | 'sampleRepo' | 'clone'>) => {
    if (!done) (done = true), settle(o);
  };

  // Events of this ticket, narrated one at a time in arrival order (a ticket lives in one
  // partition, so its events arrive in the order they were committed).
  let queue = Promise.resolve();
  const onEvent = async (e: DemoEvent) => {
    if (done) return;
    let text = describeEvent(e, { titles });
    if (e.type === 'merge.attempted') text += await resolutionsOf(sql, ticketId, e.payload.join_id);
    if (text) line(text);
    const p = e.payload;
    if (e.type === 'ticket.completed') finish({ status: 'completed', head: p.head });
    else if (e.type === 'ticket.ended') finish({ status: p.status === 'cancelled' ? 'cancelled' : 'failed', reason: p.reason });
    else if (e.type === 'ticket.rejected' && p.command === 'ticket.create') finish({ status: 'rejected', reason: `${p.code}: ${p.reason}` });
    // A blocked task is left to the poll: the same transaction may still end the ticket (a
    // source failed for good blocks its join *and* fails the ticket), which is the better verdict.
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
      if (env?.payload?.ticket_id !== ticketId) return;
      queue = queue.then(() => onEvent(env)).catch((e) => line(`(could not describe ${env.type}: ${errorMessage(e)})`));
    },
  });

  // The database is the record: if an event was missed, the poll still sees the end; it is
  // also what decides `blocked` (a task blocked while the ticket stays open).
  let seenTerminal = 0;
  const poll = setInterval(() => void (async () => {
    const [row] = await sql('select status, reason, failed_reason, head from omoi_ticket where id = ?', [ticketId]);
    const blocked = (await sql(`select id, reason from omoi_task where ticket_id = ? and status = 'blocked' order by id`, [ticketId]))[0];
    if (!row || (!TERMINAL_TICKET.has(row.status) && !blocked)) return;
    if (++seenTerminal < 2) return; // give the events a moment to arrive and be printed first
    await queue;
    if (row.status === 'completed') finish({ status: 'completed', head: row.head });
    else if (TERMINAL_TICKET.has(row.status)) finish({ status: row.status, reason: row.failed_reason ?? row.reason ?? undefined });
    else finish({ status: 'blocked', reason: `task ${blocked.id} blocked: ${blocked.reason}` });
  })().catch(() => undefined), 1000);
  const heartbeat = setInterval(() => void (async () => {
    const left = Math.max(0, timeoutMs - (Date.now() - started));
    line(`still waiting (gives up in ${Math.ceil(left / 1000)}s): ${await taskSummary(sql, ticketId)}`);
  })().catch(() => undefined), heartbeatMs);
  const timer = setTimeout(() => finish({ status: 'timed_out', reason: `the ticket did not end within ${Math.round(timeoutMs / 1000)}s` }), timeoutMs);
  const onAbort = () => finish({ status: 'aborted', reason: 'the node is stopping' });
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  let result: Omit<DemoOutcome, 'ticketId' | 'sampleRepo' | 'clone'>;
  try {
    await node.submit('ticket.create', ticket, { id: `demo-create:${ticketId}` });
    result = await ended;
  } finally {
    clearInterval(poll);
    clearInterval(heartbeat);
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    sub.unsubscribe();
  }
  await queue;
  const outcome: DemoOutcome = { ticketId, sampleRepo: repo.dir, clone, ...result };
  if (outcome.status !== 'aborted') await report(node, outcome, Date.now() - started, sql, write);
  return outcome;
}

/** `; resolved config.py (F) by resolver` from the merge attempt row (the event does not carry it). */
async function resolutionsOf(sql: (q: string, p?: unknown[]) => Promise<Row[]>, ticketId: string, joinId: string): Promise<string> {
  const [row] = await sql('select resolutions from omoi_merge_attempt where ticket_id = ? and join_id = ? order by attempt desc limit 1', [ticketId, joinId]);
  const resolutions = (row?.resolutions ?? []) as Array<{ file: string; source: string; by: string }>;
  return resolutions.length ? `; resolved ${resolutions.map((r) => `${r.file} (merging ${r.source}) by ${r.by}`).join(', ')}` : '';
}

/** The last `n` non-empty lines of a log file ([] if it cannot be read). */
async function logTail(file: string, n: number): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.trim()).slice(-n);
}

async function taskSummary(sql: (q: string, p?: unknown[]) => Promise<Row[]>, ticketId: string): Promise<string> {
  const rows = await sql('select id, status from omoi_task where ticket_id = ? order by id', [ticketId]);
  return rows.length ? rows.map((r) => `${r.id} ${r.status}`).join(', ') : 'the ticket is not created yet';
}

/** The end of the demo: history and where to look next, or what went wrong and how to inspect it. */
async function report(node: OmoiNode, o: DemoOutcome, ms: number, sql: (q: string, p?: unknown[]) => Promise<Row[]>, write: (l: string) => void): Promise<void> {
  const { config } = node;
  const dashboard = `${node.httpUrl}/#token=${encodeURIComponent(node.apiToken)}&ticket=${encodeURIComponent(o.ticketId)}`;
  const natsHint = config.natsUrl ? '' : ` --nats-url nats://${node.nc.getServer()}`;
  const tokenFile = path.join(path.resolve(config.dataDir), 'api-token');
  const curlAuth = config.apiToken ? '-H "Authorization: Bearer $OMOI_API_TOKEN"' : `-H "Authorization: Bearer $(cat ${shellQuote(tokenFile)})"`;

  if (o.status === 'completed') {
    write(`demo: ticket ${o.ticketId} completed in ${(ms / 1000).toFixed(1)}s; branch omoi/${o.ticketId} is at ${o.head?.slice(0, 7)}.`);
    write(`demo: history of the ticket branch (git -C ${o.clone} log --graph --oneline omoi/${o.ticketId}):`);
    try {
      const graph = await git(o.clone, ['log', '--graph', '--oneline', '--decorate=short', '--color=never', `omoi/${o.ticketId}`]);
      for (const l of graph.split('\n')) write(`  ${l}`);
    } catch (err) {
      write(`  (could not read the history: ${errorMessage(err)})`);
    }
  } else {
    write(`demo: the demo ticket did not complete: ${o.status.toUpperCase()} — ${o.reason ?? 'no reason given'}`);
    write(`demo: tasks: ${await taskSummary(sql, o.ticketId).catch(() => 'unknown')}`);
    for (const t of await sql(`select id, attempt, reason from omoi_task where ticket_id = ? and status in ('failed', 'blocked') order by id`, [o.ticketId]).catch(() => [])) {
      write(`demo: task ${t.id}: ${String(t.reason ?? '').split('\n')[0]}`);
      if (t.attempt > 0) {
        const logDir = path.join(path.resolve(config.dataDir), 'logs', o.ticketId, `${t.id}-${t.attempt}`);
        write(`demo:   its log: ${logDir}/`);
        for (const l of await logTail(path.join(logDir, `${encodeURIComponent(t.id)}.log`), 5)) write(`demo:   | ${l}`);
      }
    }
    const failedMerges = await sql('select join_id, files, resolver_output from omoi_merge_attempt where ticket_id = ? and not ok order by join_id', [o.ticketId]).catch(() => []);
    for (const m of failedMerges) {
      write(`demo: merge of ${m.join_id} left ${(m.files as string[]).join(', ') || 'nothing'} unresolved; resolver said: ${String(m.resolver_output).trim().split('\n').slice(-3).join(' | ')}`);
      write(`demo:   resolve it by hand (docs/tutorial.md): in a clone of ${o.sampleRepo}, fetch the task branches`);
      write(`demo:   (git fetch ${o.clone} 'refs/heads/omoi-task/${o.ticketId}/*:refs/remotes/omoi/*'), merge the sources of ${m.join_id}, fix the files,`);
      write(`demo:   commit, push the commit to ${o.sampleRepo}, then send:`);
      write(`demo:   omoi pub omoi.in.merge.resolve '{"ticket_id":"${o.ticketId}","join_id":"${m.join_id}","commit":"<sha>"}'${natsHint}`);
    }
    if (o.status === 'timed_out') write('demo: the node may still finish it: watch the dashboard or the events below.');
  }

  write('demo: where to look next:');
  write(`  dashboard    ${dashboard}`);
  write(`  events       omoi sub 'omoi.evt.>' --pretty${natsHint}`);
  write(`  ticket JSON  curl -s ${curlAuth} ${node.httpUrl}/api/tickets/${o.ticketId}`);
  const joins = await sql('select id, merge_commit, sources from omoi_join where ticket_id = ? order by id', [o.ticketId]).catch(() => []);
  for (const j of joins) {
    if (j.merge_commit) write(`  ${`${j.id} merge`.padEnd(12)} git -C ${o.clone} show --stat ${j.merge_commit.slice(0, 12)}   (merges ${(j.sources as string[]).join(', ')})`);
  }
  write(`  tutorial     docs/tutorial.md`);
  write('demo: the node keeps running; stop it with Ctrl-C.');
}
