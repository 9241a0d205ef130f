import { readFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ensureClone } from '../../src/git/index.ts';
import { executeTask, ownershipViolations, SandboxManager, type ExecutableTask } from '../../src/sandbox/index.ts';
import { git, SourceRepo, tempDir, WHO } from '../git/fixture.ts';


async function setup(t: Test, taskId = 'task-a') {
  const root = tempDir(t, 'omoi-exec-');
  const source = SourceRepo.create(root, { 'README.md': 'base\n', 'old.txt': 'old\n' });
  const base = git(source.dir, 'rev-parse', 'HEAD');
  const clone = path.join(root, 'clone');
  await ensureClone(source.dir, clone);
  const manager = new SandboxManager(path.join(root, 'sandboxes'));
  const sandbox = await manager.create(clone, taskId, `omoi/ticket-1/${taskId}`, base);
  t.teardown(() => manager.remove(sandbox));
  const run = (task: Partial<ExecutableTask> & Pick<ExecutableTask, 'run'>, extra: { agentTemplate?: string } = {}) =>
    executeTask({
      sandbox, task: { id: taskId, ticketId: 'ticket-1', kind: 'command', owns: ['**'], ...task },
      context: { results: { 'task-0': { answer: 42 } } }, timeoutMs: 60_000, logDir: path.join(root, 'logs'), who: WHO, ...extra,
    });
  return { root, clone, base, sandbox, run };
}

t.test('a command that writes files and a result: committed, result parsed', async (t) => {
  const s = await setup(t);
  const outcome = await s.run({
    owns: ['src/**', 'README.md', 'old.txt'],
    run: [
      'mkdir -p src && echo new > src/new.txt',
      'echo changed > README.md',
      'rm old.txt',
      'cp "$OMOI_TASK_FILE" src/seen-task.json',
      'echo "{\\"files\\": 3, \\"task\\": \\"$OMOI_TASK_ID\\", \\"ticket\\": \\"$OMOI_TICKET_ID\\"}" > "$OMOI_RESULT_FILE"',
      'echo done',
    ].join(' && '),
  });
  t.equal(outcome.ok, true, outcome.error ?? 'ok');
  t.same(outcome.changedFiles, ['README.md', 'old.txt', 'src/new.txt', 'src/seen-task.json']);
  t.same(outcome.violations, []);
  t.same(outcome.result, { files: 3, task: 'task-a', ticket: 'ticket-1' });
  t.equal(git(s.sandbox.dir, 'rev-parse', 'omoi/ticket-1/task-a'), outcome.commit, 'the task branch (in the sandbox) holds the commit');
  t.equal(git(s.sandbox.dir, 'rev-parse', `${outcome.commit}^`), s.base);
  t.equal(git(s.sandbox.dir, 'log', '-1', '--format=%s', outcome.commit), 'omoi: task task-a of ticket ticket-1');
  t.equal(git(s.sandbox.dir, 'show', `${outcome.commit}:src/new.txt`), 'new');
  const taskFile = JSON.parse(git(s.sandbox.dir, 'show', `${outcome.commit}:src/seen-task.json`));
  t.same(taskFile.context, { results: { 'task-0': { answer: 42 } } }, 'the task file carries the context');
  t.equal(taskFile.task.id, 'task-a');
  t.match(outcome.tail, 'done');
  t.match(readFileSync(outcome.logFile, 'utf8'), 'done');
  t.notOk(outcome.logFile.startsWith(s.sandbox.dir), 'logs are kept outside the sandbox');
});

t.test('files written outside `owns` are listed as violations', async (t) => {
  const s = await setup(t);
  const outcome = await s.run({
    owns: ['src/**'],
    run: 'mkdir -p src/.config other && echo a > src/ok.txt && echo b > src/.config/x && echo c > other/x.txt && echo d > README.md',
  });
  t.equal(outcome.ok, true);
  t.same(outcome.changedFiles, ['README.md', 'other/x.txt', 'src/.config/x', 'src/ok.txt']);
  t.same(outcome.violations, ['README.md', 'other/x.txt'], 'dotfiles inside owned globs are owned');
});

t.test('a task that commits its own work is judged on everything since the base, not only what it left uncommitted', async (t) => {
  const s = await setup(t);
  const commit = 'git -c user.name=T -c user.email=t@x commit -qm';
  const outcome = await s.run({
    owns: ['src/**'],
    run: `echo stolen > README.md && git add -A && ${commit} one && git checkout -q -b side && echo x > other.txt && git add -A && ${commit} two && mkdir -p src && echo a > src/ok.txt`,
  });
  t.equal(outcome.ok, true, outcome.error ?? 'ok');
  t.same(outcome.changedFiles, ['README.md', 'other.txt', 'src/ok.txt'], 'the files of its own commits are counted');
  t.same(outcome.violations, ['README.md', 'other.txt'], 'and checked against its claims');
  const fresh = await setup(t, 'task-b');
  const nothingLeft = await fresh.run({ owns: ['src/**'], run: `echo again > README.md && git add -A && ${commit} all-committed` });
  t.same(nothingLeft.violations, ['README.md'], 'also when nothing was left uncommitted');
});

t.test('a failing command commits nothing', async (t) => {
  const s = await setup(t);
  const outcome = await s.run({ run: 'echo partial > README.md; echo broke >&2; exit 2' });
  t.equal(outcome.ok, false);
  t.equal(outcome.exitCode, 2);
  t.equal(outcome.error, 'exited with code 2');
  t.equal(outcome.commit, s.base);
  t.equal(git(s.sandbox.dir, 'rev-parse', 'omoi/ticket-1/task-a'), s.base, 'branch not moved');
  t.match(outcome.tail, 'broke');

  const badResult = await s.run({ run: 'echo "not json" > "$OMOI_RESULT_FILE"' });
  t.equal(badResult.ok, false);
  t.match(badResult.error, 'is not valid JSON');

  const timedOut = await executeTask({
    sandbox: s.sandbox, task: { id: 'task-a', ticketId: 'ticket-1', kind: 'command', run: 'sleep 1000', owns: [] },
    context: null, timeoutMs: 500, logDir: path.join(s.root, 'logs'), who: WHO,
  });
  t.same([timedOut.ok, timedOut.timedOut], [false, true]);
});

t.test('an agent task runs the configured template with the prompt file', async (t) => {
  const s = await setup(t, 'agent-task');
  const outcome = await s.run(
    { kind: 'agent', run: 'ignored when a prompt is given', prompt: "Fix the bug in 'parser'.", owns: ['**'] },
    { agentTemplate: 'cp {prompt_file} prompt-seen.md && echo {task_id}' },
  );
  t.equal(outcome.ok, true, outcome.error ?? 'ok');
  t.equal(git(s.sandbox.dir, 'show', `${outcome.commit}:prompt-seen.md`), "Fix the bug in 'parser'.");
  t.match(outcome.tail, 'agent-task');
  await t.rejects(s.run({ kind: 'agent', run: 'x' }), { code: 'agent_not_configured' });
});

t.test('ownershipViolations uses picomatch globs with dotfiles', async (t) => {
  t.same(ownershipViolations(['src/a.ts', 'src/.env', 'docs/x.md', '.github/ci.yml'], ['src/**', '.github/*.yml']), ['docs/x.md']);
  t.same(ownershipViolations(['a'], []), ['a'], 'owning nothing: every change is a violation');
});
