import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ensureClone } from '../../src/git/index.ts';
import { decideIsolation, executeTask, isolationPrefix, SandboxManager, type Isolation } from '../../src/sandbox/index.ts';
import { git, SourceRepo, tempDir, WHO } from '../git/fixture.ts';

// Task commands under bubblewrap, one test per thing a task must not reach, against real
// processes and a real repository. The layout is a node's: a data directory holding the API
// token, the clone and the sandboxes, and a home directory with an SSH key.

async function setup(t: Test, writable: string[] = []) {
  const root = tempDir(t, 'omoi-isolation-');
  const dataDir = path.join(root, 'data');
  const home = path.join(root, 'home');
  mkdirSync(path.join(home, '.ssh'), { recursive: true });
  writeFileSync(path.join(home, '.ssh', 'id_ed25519'), 'PRIVATE KEY\n');
  mkdirSync(dataDir);
  writeFileSync(path.join(dataDir, 'api-token'), 'secret-token\n');
  const source = SourceRepo.create(root, { 'README.md': 'base\n' });
  const base = git(source.dir, 'rev-parse', 'HEAD');
  const clone = path.join(dataDir, 'clones', 'repo');
  await ensureClone(source.dir, clone);
  const manager = new SandboxManager(path.join(dataDir, 'sandboxes'));
  const isolation = await decideIsolation(undefined, [dataDir, home], writable);
  let n = 0;
  const run = async (command: string, iso: Isolation = isolation) => {
    const id = `task-${++n}`;
    const sandbox = await manager.create(clone, id, `omoi-task/T/${id}`, base);
    t.teardown(() => manager.remove(sandbox));
    const outcome = await executeTask({
      sandbox, task: { id, ticketId: 'T', kind: 'command', run: command, owns: ['**'] }, context: null, timeoutMs: 30_000,
      logDir: path.join(dataDir, 'logs', 'T', id), who: WHO, env: { HOME: home }, isolation: iso,
    });
    return { ...outcome, sandbox };
  };
  return { root, dataDir, home, clone, isolation, run };
}

t.test('bubblewrap is chosen when it runs; `none` only when asked; anything else is refused', async (t) => {
  t.equal((await decideIsolation(undefined, ['/tmp/x'])).mode, 'bwrap', 'bubblewrap runs on this machine (scripts/setup.sh installs it)');
  t.equal((await decideIsolation('bwrap', [])).mode, 'bwrap');
  t.equal((await decideIsolation('none', [])).mode, 'none');
  await t.rejects(decideIsolation('docker', []), { code: 'invalid_config' });
  const dir = tempDir(t, 'omoi-hidden-');
  t.same((await decideIsolation(undefined, ['/', dir, `${dir}/`, '/tmp/omoi-no-such-dir'])).hidden, [dir], 'a HOME of / or one that does not exist is never hidden; duplicates once');
  await t.rejects(decideIsolation(undefined, [], ['/tmp/omoi-no-such-dir']), { code: 'invalid_config', message: /OMOI_SANDBOX_WRITABLE: \/tmp\/omoi-no-such-dir does not exist/ });
  t.same(isolationPrefix({ mode: 'none', hidden: [], writable: [], readable: [] }, { writable: ['/x'], cwd: '/x' }), [], 'none: the command runs as it is');
  t.throws(() => isolationPrefix({ mode: 'unavailable', hidden: [], writable: [], readable: [], reason: 'no bwrap here' }, { writable: [], cwd: '/' }),
    { code: 'sandbox_unavailable', message: /no bwrap here/ }, 'unavailable: refused with the reason');
  // Omoi's own installation stays readable over the private /tmp (a checkout in \`mktemp -d\`, as CI clones).
  const root = path.resolve(import.meta.dirname, '..', '..');
  const args = isolationPrefix(await decideIsolation(undefined, []), { writable: ['/tmp/omoi-x'], cwd: '/tmp/omoi-x' });
  const at = (flag: string, dir: string) => args.findIndex((a, i) => a === flag && args[i + 1] === dir);
  t.ok(at('--ro-bind', root) > at('--tmpfs', '/tmp'), 'the installation is bound back after the private /tmp');
  t.notOk(args.includes('--unshare-net'), 'the network is the host\'s by default');
  t.ok(isolationPrefix(await decideIsolation(undefined, []), { writable: [], cwd: '/', network: false }).includes('--unshare-net'), 'network: false — a network namespace of its own');
  t.throws(() => isolationPrefix({ mode: 'none', hidden: [], writable: [], readable: [] }, { writable: [], cwd: '/', network: false }),
    { code: 'sandbox_unavailable', message: /only bubblewrap can enforce/ }, 'unsandboxed, no network cannot be had: refused, not ignored');
});

t.test('a task cannot read the node\'s data directory or the home directory', async (t) => {
  const s = await setup(t);
  const leak = await s.run(`cat '${path.join(s.dataDir, 'api-token')}' > leak.txt`);
  t.equal(leak.ok, false, 'reading the API token fails');
  t.match(leak.tail, /No such file or directory/);
  const ssh = await s.run('cat ~/.ssh/id_ed25519 > leak.txt');
  t.equal(ssh.ok, false, 'reading ~/.ssh fails');
  const listing = await s.run(`ls -A "$HOME" > home.txt; ls -A '${s.dataDir}' > data.txt`);
  t.equal(listing.ok, true, listing.error ?? 'ok');
  t.equal(readFileSync(path.join(listing.sandbox.dir, 'home.txt'), 'utf8'), '', 'the home directory is empty');
  t.same(readFileSync(path.join(listing.sandbox.dir, 'data.txt'), 'utf8').split('\n').filter(Boolean).sort(), ['clones', 'logs', 'sandboxes'],
    'of the data dir only the paths to its own sandbox, log dir and clone objects exist');
  const others = await s.run(`ls '${path.join(s.dataDir, 'sandboxes')}' > others.txt`);
  t.same(readFileSync(path.join(others.sandbox.dir, 'others.txt'), 'utf8').trim().split('\n'), [path.basename(others.sandbox.dir)], 'no other sandbox is visible');

  const unsandboxed = await s.run(`cat '${path.join(s.dataDir, 'api-token')}' > leak.txt`, { ...s.isolation, mode: 'none' });
  t.equal(unsandboxed.ok, true, 'with OMOI_SANDBOX=none the same command reads the token (what the sandbox prevents)');
});

t.test('a task works in its sandbox with git, cannot write the clone\'s objects, and has a private /tmp', async (t) => {
  const s = await setup(t);
  const marker = path.join('/tmp', `omoi-isolation-${process.pid}-${Date.now()}`);
  const work = await s.run([
    'echo new > new.txt', 'git add new.txt',
    'git -c user.name=T -c user.email=t@x commit -qm "by the task"',
    `echo private > '${marker}'`, `test -f '${marker}'`,
    `if touch '${path.join(s.clone, 'objects', 'planted')}' 2>/dev/null; then exit 9; fi`,
    'echo \'{"ok": true}\' > "$OMOI_RESULT_FILE"',
  ].join(' && '));
  t.equal(work.ok, true, work.error ? `${work.error}\n${work.tail}` : 'ok');
  t.same(work.result, { ok: true }, 'the result file is writable');
  t.equal(git(work.sandbox.dir, 'log', '-1', '--format=%s', 'HEAD'), 'by the task', 'the task committed in its sandbox');
  t.notOk(existsSync(path.join(s.clone, 'objects', 'planted')), 'the clone\'s objects are read-only');
  t.notOk(existsSync(marker), '/tmp inside is not the host\'s /tmp');
});

t.test('nothing a task starts outlives it, not even a process that left its process group', async (t) => {
  const s = await setup(t);
  // A sleep of a duration no other process has: its command line is the tag `ps` finds.
  const tag = `sleep ${300 + (process.pid % 1000)}.${Date.now() % 1000}`;
  const outcome = await s.run(`setsid ${tag} > /dev/null 2>&1 & sleep 0.3; ps -eo args > ps.txt; exit 0`);
  t.equal(outcome.ok, true, outcome.error ?? 'ok');
  t.ok(readFileSync(path.join(outcome.sandbox.dir, 'ps.txt'), 'utf8').split('\n').some((l) => l.trim() === tag), 'the escapee was running when the task ended');
  const alive = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === tag);
  for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  t.notOk(alive(), 'the setsid escapee died with the task');
});

t.test('directories in OMOI_SANDBOX_WRITABLE are writable, nothing else outside the sandbox is; a writable parent does not uncover the data dir', async (t) => {
  const shared = tempDir(t, 'omoi-shared-');
  const s = await setup(t, [shared, '/tmp']);
  const token = await s.run(`cat '${path.join(s.dataDir, 'api-token')}' > leak.txt`);
  t.equal(token.ok, false, 'the data dir inside a writable /tmp stays hidden');
  const outcome = await s.run(`echo hello > '${path.join(shared, 'out.txt')}'`);
  t.equal(outcome.ok, true, outcome.error ?? 'ok');
  t.equal(readFileSync(path.join(shared, 'out.txt'), 'utf8'), 'hello\n');
  const probe = `/etc/omoi-probe-${process.pid}-${Date.now()}`;
  const elsewhere = await s.run(`echo x > '${probe}'`);
  t.equal(elsewhere.ok, false, 'a path outside the sandbox is read-only');
  t.match(elsewhere.tail, /Read-only file system/);
  t.notOk(existsSync(probe));
});
