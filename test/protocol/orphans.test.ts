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
/** Code without its comments (a name in a comment produces nothing). */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
// The generated protocol document names every type; it produces none.
const production = sources(SRC).filter((s) => s.file !== path.join('cli', 'protocol-doc.ts')).map((s) => ({ ...s, code: code(s.text) }));

/**
 * The files that may produce the message type `literal`: where its quoted name appears in code,
 * but not where only a consumer would write it — a `case` label, a comparison (`=== 'x'`), a
 * union type (`'x' | 'y'`) or an object key (`'x': handler`).
 */
function producedIn(literal: string, files: Array<{ file: string; code: string }> = production): string[] {
  const quoted = `'${literal}'`;
  const found = new Set<string>();
  for (const s of files) {
    for (let i = s.code.indexOf(quoted); i >= 0; i = s.code.indexOf(quoted, i + 1)) {
      const before = s.code.slice(Math.max(0, i - 12), i);
      const after = s.code.slice(i + quoted.length, i + quoted.length + 3);
      if (/case\s$/.test(before) || /[!=]==\s$/.test(before) || /\|\s$/.test(before) || /^\s\|/.test(after) || /^:/.test(after)) continue;
      found.add(s.file);
    }
  }
  return [...found];
}

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

t.test('a name only commented, compared, matched, typed or used as a key is not produced; an argument is', async (t) => {
  const only = (text: string) => producedIn('a.b', [{ file: 'x.ts', code: code(text) }]);
  t.same(only(`// emits 'a.b'\n/** 'a.b' */\nswitch (e.type) { case 'a.b': break; }\nif (e.type === 'a.b') {}\ntype T = 'a.b' | 'c';\nconst h = { 'a.b': f };`), []);
  t.same(only(`emit(scope, ok ? 'a.b' : 'c', {});`), ['x.ts']);
  t.same(only(`send(scope, 'a.b', {});`), ['x.ts']);
});

t.test('every event has documented consumers and is emitted by production code', async (t) => {
  for (const def of events()) {
    t.ok(def.consumers.length > 0, `${def.type} lists its consumers`);
    const where = producedIn(def.type);
    t.ok(where.length > 0, `${def.type} is produced in src/ (${where.join(', ') || 'nowhere'})`);
  }
});

t.test('every internal command is sent by production code', async (t) => {
  for (const def of commands().filter((c) => !c.ingress)) {
    const where = producedIn(def.type);
    t.ok(where.length > 0, `${def.type} is sent in src/ (${where.join(', ') || 'nowhere'})`);
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
