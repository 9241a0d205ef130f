// DESIGN.md invariant 1: nothing orphaned. Every actor type is spawned by production code
// reachable from src/bootstrap.ts; every message type has a handler or a documented consumer,
// and is produced somewhere.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ActorType, commands, events, REGISTRY } from '../../src/protocol/index.ts';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';

const SRC = path.resolve('src');
function sources(dir: string): Array<{ file: string; text: string }> {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return p.includes(`${path.sep}protocol`) ? [] : sources(p);
    return e.name.endsWith('.ts') ? [{ file: path.relative(SRC, p), text: fs.readFileSync(p, 'utf8') }] : [];
  });
}
const production = sources(SRC);
const mentions = (literal: string) => production.filter((s) => s.text.includes(`'${literal}'`)).map((s) => s.file);

t.test('every command is handled by an actor the running node has registered; every other actor type is spawned by one', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const registered = new Set<string>(node.runtime.registeredTypes());
  for (const def of commands()) {
    t.ok(registered.has(def.handledBy), `${def.type} → ${def.handledBy} is registered by bootstrap`);
  }
  // Not a host: such an actor type must be spawned at run time as the nact child of an actor that
  // is (a MergeActor by its JoinActor). Run a real join through the node and observe the spawns:
  // the parent label is read from the child's nact parent reference, not from a name in a file.
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'ORPHAN', title: 'a join', repository: repo.dir, base_branch: 'main',
    tasks: [
      { id: 'A', run: 'echo a > a.txt', depends_on: [], owns: ['a.txt'] },
      { id: 'B', run: 'echo b > b.txt', depends_on: [], owns: ['b.txt'] },
      { id: 'C', run: 'test -f a.txt && test -f b.txt', depends_on: ['A', 'B'], owns: [] },
    ],
  });
  await waitFor('ticket completed', async () => {
    const [row] = (await node.db.em().getConnection().execute(`select status from omoi_ticket where id = 'ORPHAN'`)) as Array<{ status: string }>;
    if (row && ['failed', 'cancelled'].includes(row.status)) throw new Error(`ticket ${row.status}`);
    return row?.status === 'completed';
  }, { timeoutMs: 60_000 });
  const spawns = (await node.metrics.spawns.get()).values;
  for (const type of Object.values(ActorType)) {
    if (registered.has(type)) continue;
    const parents = spawns.filter((v) => v.labels.actor === type && v.value > 0).map((v) => String(v.labels.parent));
    t.ok(parents.some((p) => registered.has(p)), `${type} was spawned as the child of a registered actor by production code (parents seen: ${parents.join(', ') || 'none'})`);
  }
  t.ok(spawns.some((v) => v.labels.actor === ActorType.MergeActor && v.labels.parent === ActorType.JoinActor && v.value === 1), 'the join spawned exactly one MergeActor, as its child');
});

t.test('every event has documented consumers and is emitted by production code', async (t) => {
  for (const def of events()) {
    t.ok(def.consumers.length > 0, `${def.type} lists its consumers`);
    t.ok(mentions(def.type).length > 0, `${def.type} is produced in src/ (${mentions(def.type).join(', ') || 'nowhere'})`);
  }
});

t.test('every internal command is sent by production code', async (t) => {
  for (const def of commands().filter((c) => !c.ingress)) {
    t.ok(mentions(def.type).length > 0, `${def.type} is sent in src/ (${mentions(def.type).join(', ') || 'nowhere'})`);
  }
});

t.test('every actor file is reachable from src/bootstrap.ts', async (t) => {
  const reachable = new Set<string>();
  const visit = (file: string) => {
    if (reachable.has(file)) return;
    reachable.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/from '(\.[^']+)'/g)) {
      const target = path.resolve(path.dirname(file), m[1]);
      if (fs.existsSync(target)) visit(target);
    }
  };
  visit(path.join(SRC, 'bootstrap.ts'));
  for (const f of fs.readdirSync(path.join(SRC, 'actors')).filter((f) => f.endsWith('-actor.ts'))) {
    t.ok(reachable.has(path.join(SRC, 'actors', f)), `src/actors/${f} is imported (transitively) by src/bootstrap.ts`);
  }
  t.ok(REGISTRY.length > 10, 'the registry is populated');
});
