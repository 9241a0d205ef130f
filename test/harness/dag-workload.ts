import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { CommitStore } from '../../src/git/index.ts';
import { openGitBucket } from '../../src/messaging/git-bucket.ts';
import type { Database } from '../../src/persistence/index.ts';
import { partitionOf } from '../../src/protocol/subjects.ts';
import { git } from './git-repo.ts';
import { misorderedHoldings, overlappingHoldings } from './lease-history.ts';
import type { Test } from 'tap';

/** A query on the test's database: its rows. */
export type Sql = <T = any>(q: string, params?: unknown[]) => Promise<T[]>;

/**
 * The cluster tests' DAG (issue 7, item 6): `tickets` tickets of A → F1..F`fan` → J, each
 * with one join (J, the continuation, runs on the merge of the fan-out and checks that every
 * source's file is there). Every task appends `<ticket> <task> <attempt>` to `effects`, a
 * file outside every repository, so `verifyDag` can count each attempt's effect.
 */
export interface DagWorkload {
  ids: string[];
  fan: string[];
  effects: string;
  /** Tasks in all tickets. */
  total: number;
  /** The `omoi.in.ticket.create` payload of each ticket. */
  tickets(): object[];
}

export function dagWorkload(opts: { tickets: number; fan: number; partitions: number; repository: string; effects: string; prefix?: string }): DagWorkload {
  const { effects, repository } = opts;
  const fan = Array.from({ length: opts.fan }, (_, i) => `F${i + 1}`);
  const ids = ticketIds(opts.tickets, opts.partitions, opts.prefix ?? 'S');
  const step = (file: string) => `echo "$OMOI_TICKET_ID $OMOI_TASK_ID $OMOI_ATTEMPT" >> ${effects} && echo "$OMOI_TASK_ID" > ${file}`;
  return {
    ids, fan, effects, total: ids.length * (fan.length + 2),
    tickets: () => ids.map((id) => ({
      ticket_id: id, title: `dag ${id}`, repository, base_branch: 'main',
      tasks: [
        { id: 'A', run: step('a.txt'), owns: ['a.txt'] },
        ...fan.map((f) => ({ id: f, run: step(`${f.toLowerCase()}.txt`), depends_on: ['A'], owns: [`${f.toLowerCase()}.txt`] })),
        // The continuation runs on the merge: every source's file must be there.
        { id: 'J', run: `test "$(ls f*.txt | wc -l)" = ${fan.length} && test -f a.txt && ${step('j.txt')}`, depends_on: fan, owns: ['j.txt'] },
      ],
    })),
  };
}

/** `count` ticket ids that cover every partition first: each node holds some, so each runs merges. */
function ticketIds(count: number, partitions: number, prefix: string): string[] {
  const ids: string[] = [];
  const covered = new Set<number>();
  for (let i = 0; ids.length < count; i++) {
    const id = `${prefix}${i}`;
    const p = partitionOf('ticket', id, partitions);
    if (covered.size < partitions && covered.has(p)) continue;
    covered.add(p);
    ids.push(id);
  }
  return ids;
}

/**
 * Once every ticket completed: each join merged with exactly one merge commit and its
 * continuation ran on it; the completed attempt of every task left its effect once and no
 * attempt left two; tasks ran on at least `minAgents` agents; and the lease history never
 * shows a partition held by two nodes at once.
 */
export async function verifyDag(t: Test, w: DagWorkload, sql: Sql, db: Database, opts: { minAgents: number }): Promise<void> {
  const joins = await sql(`select ticket_id, id, status, merge_commit from omoi_join order by ticket_id`);
  t.equal(joins.length, w.ids.length, 'one join a ticket');
  t.ok(joins.every((j) => j.status === 'merged' && j.merge_commit), 'every join merged');
  const mergeCommits = await sql(`select ticket_id, join_id, count(distinct commit)::int as commits from omoi_merge_attempt where commit is not null group by 1, 2`);
  t.equal(mergeCommits.length, w.ids.length, 'every join has its merge commit recorded');
  t.ok(mergeCommits.every((m) => m.commits === 1), 'one merge commit per join, however often its merge ran');
  const continuations = await sql(`select t.ticket_id from omoi_task t join omoi_join j on j.ticket_id = t.ticket_id where t.id = 'J' and t.base_commit = j.merge_commit`);
  t.equal(continuations.length, w.ids.length, 'each continuation ran on its join\'s merge commit');

  const lines = (await readFile(w.effects, 'utf8')).trim().split('\n');
  const seen = new Map<string, number>();
  for (const line of lines) seen.set(line, (seen.get(line) ?? 0) + 1);
  t.same([...seen].filter(([, n]) => n > 1), [], 'no attempt ran twice');
  const tasks = await sql(`select ticket_id, id, attempt, agent_id from omoi_task`);
  t.equal(tasks.length, w.total, `all ${w.total} tasks exist`);
  t.same(tasks.filter((r) => seen.get(`${r.ticket_id} ${r.id} ${r.attempt}`) !== 1).map((r) => `${r.ticket_id}/${r.id}#${r.attempt}`), [], 'the completed attempt of every task left its effect once');
  const agents = new Set(tasks.map((r) => r.agent_id));
  t.ok(agents.size >= opts.minAgents, `tasks ran on at least ${opts.minAgents} nodes' agents (${[...agents].sort().join(', ')})`);

  t.same(await overlappingHoldings(db), [], 'no partition held by two nodes at once');
  t.same(await misorderedHoldings(db), [], 'epochs and holding times agree');
}

/** Every ticket's head holds README.md (the repository's one file) and every task's file when rebuilt from the object store alone, in `dir` (as on a node that never saw the tickets). */
export async function verifyHeadsFromObjectStore(t: Test, w: DagWorkload, sql: Sql, nc: NatsConnection, dir: string, repository: string): Promise<void> {
  const bucket = await openGitBucket(jetstream(nc));
  const stranger = new CommitStore({ dataDir: dir, bucket });
  const expected = ['README.md', 'a.txt', ...w.fan.map((f) => `${f.toLowerCase()}.txt`), 'j.txt'].sort();
  for (const ticket of await sql(`select id, head from omoi_ticket order by id`)) {
    await stranger.ensure(ticket.id, repository, [ticket.head]);
    const files = await git(path.join(dir, 'repos', ticket.id), 'ls-tree', '-r', '--name-only', ticket.head);
    t.same(files.split('\n').sort(), expected, `${ticket.id}: the head holds every task's file`);
  }
}
