// The pieces of a ticket push, on real git and PostgreSQL: the push itself (idempotent, forced,
// failures classified and without credentials), the pull request command (quoted placeholders,
// its URL or its error), and the sweep's query for pushes whose end was never reported.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { PushFailedError, pushHead } from '../../src/delivery-git/git-push.ts';
import { firstUrl, runPullRequestCommand } from '../../src/delivery-git/pull-request.ts';
import { PushStore } from '../../src/delivery-git/push-store.ts';
import { openDatabase } from '../../src/persistence/index.ts';
import { git, makeRepo, tempDir, withPostgres } from '../harness/index.ts';

const order = (more: Record<string, string> = {}) => ({
  ticket_id: 'T1', title: "Fix it; don't $(break) things", repository: '/r', base_branch: 'main', remote: '/r', branch: 'omoi/T1', ...more,
});

t.test('pushHead: the head lands on the branch; again is a no-op success; forced to a new head', async (t) => {
  const repo = await makeRepo(t, { 'a.txt': 'a\n' });
  const origin = path.join(await tempDir(t, 'origin-'), 'o.git');
  await git(path.dirname(origin), 'init', '--quiet', '--bare', origin);
  await pushHead(repo.dir, origin, repo.head, 'omoi/T1', 10_000);
  t.equal(await git(origin, 'rev-parse', 'refs/heads/omoi/T1'), repo.head);
  await pushHead(repo.dir, origin, repo.head, 'omoi/T1', 10_000);
  t.equal(await git(origin, 'rev-parse', 'refs/heads/omoi/T1'), repo.head, 'pushed again: unchanged, no error');
  // An unrelated history (a ticket retried from scratch) replaces the branch: it is Omoi's.
  await git(repo.dir, 'checkout', '--quiet', '--orphan', 'other');
  await git(repo.dir, 'commit', '--quiet', '--allow-empty', '-m', 'unrelated');
  const other = await git(repo.dir, 'rev-parse', 'HEAD');
  await pushHead(repo.dir, origin, other, 'omoi/T1', 10_000);
  t.equal(await git(origin, 'rev-parse', 'refs/heads/omoi/T1'), other, 'forced');
});

t.test('pushHead: a remote that is not a repository is a retryable push_failed without credentials', async (t) => {
  const repo = await makeRepo(t, { 'a.txt': 'a\n' });
  const missing = path.join(await tempDir(t, 'missing-'), 'nope.git');
  const err = await pushHead(repo.dir, missing, repo.head, 'omoi/T1', 10_000).then(() => undefined, (e) => e);
  t.type(err, PushFailedError);
  t.equal(err.code, 'push_failed');
  const url = 'https://bob:s3cret@127.0.0.1:9/app.git';
  const remote = await pushHead(repo.dir, url, repo.head, 'omoi/T1', 10_000).then(() => undefined, (e) => e);
  t.equal(remote.code, 'push_failed');
  t.notMatch(remote.message, /s3cret/, 'the password is not in the error');
  t.match(remote.message, /bob:\*\*\*@127\.0\.0\.1/);
  const option = await pushHead(repo.dir, '--upload-pack=touch /tmp/x@h:r', repo.head, 'omoi/T1', 10_000).then(() => undefined, (e) => e);
  t.equal(option.code, 'bad_remote', 'a remote git would read as an option is refused');
});

t.test('the pull request command: quoted placeholders, the first URL, or the error', async (t) => {
  const dir = await tempDir(t, 'pr-');
  const logs = path.join(dir, 'logs');
  const echo = await runPullRequestCommand(order({ pull_request_command: 'printf "%s|" {title} {branch} {base_branch} {ticket_id}; echo; echo "see https://x.example/pr/3)."' }), dir, logs, 10_000);
  t.same(echo, { url: 'https://x.example/pr/3' }, 'the URL without trailing punctuation');
  const log = await readFile(path.join(logs, 'T1.pull-request.log'), 'utf8');
  t.match(log, "Fix it; don't $(break) things|omoi/T1|main|T1|", 'the title is one argument, not run');
  t.same(await runPullRequestCommand(order({ pull_request_command: 'echo opened' }), dir, logs, 10_000), { url: null }, 'no URL printed: none recorded');
  const failed = await runPullRequestCommand(order({ pull_request_command: 'echo "already exists" >&2; exit 4' }), dir, logs, 10_000);
  t.match(failed, { error: /^pull_request_failed: exited with 4: already exists/ });
  const slow = await runPullRequestCommand(order({ pull_request_command: 'sleep 5' }), dir, logs, 300);
  t.match(slow, { error: /timed out after 300 ms/ });
  t.equal(firstUrl('no link here'), null);
  t.equal(firstUrl('a <http://h/x> b'), 'http://h/x');
});

t.test('unreported pushes: settled rows whose ticket still shows the round pushing', async (t) => {
  const pg = await withPostgres(t);
  const db = await openDatabase(pg.url, pino({ level: 'silent' }));
  t.teardown(() => db.close());
  const sql = (q: string, p: unknown[] = []) => db.em().getConnection().execute(q, p);
  const ticket = (id: string, status: string | null, round: number) => sql(
    `insert into omoi_ticket (id, title, repository, base_branch, status, ownership, created_at, updated_at, delivery_status, delivery_round)
     values (?, 't', '/r', 'main', 'completed', 'strict', now(), now(), ?, ?)`, [id, status, round]);
  const push = (id: string, round: number, status: string, ago = '1 hour') => sql(
    `insert into omoi_ticket_push (ticket_id, round, head, status, attempts, next_attempt_at, payload, created_at, updated_at, last_error, pull_request_url)
     values (?, ?, 'abc', ?, 3, now(), '{}', now(), now() - ?::interval, 'boom', 'https://x/1')`, [id, round, status, ago]);
  await ticket('lost', 'pushing', 1); await push('lost', 1, 'failed');
  await ticket('told', 'failed', 1); await push('told', 1, 'failed');
  await ticket('busy', 'pushing', 1); await push('busy', 1, 'pending');
  await ticket('old', 'pushing', 2); await push('old', 1, 'delivered'); await push('old', 2, 'pending');
  await ticket('fresh', 'pushing', 1); await push('fresh', 1, 'delivered', '0 seconds');
  const store = new PushStore(db);
  t.same(await store.unreported(60_000), [{
    ticket_id: 'lost', round: 1, head: 'abc', status: 'failed', attempts: 3, last_error: 'boom', pull_request_url: 'https://x/1', pull_request_error: null,
  }], 'only the settled current round of a ticket still pushing, once its grace passed');
});
