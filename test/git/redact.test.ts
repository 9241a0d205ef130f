import path from 'node:path';
import t from 'tap';
import { ensureClone } from '../../src/git/index.ts';
import { redactIn, redactUrl } from '../../src/redact.ts';
import { tempDir } from './fixture.ts';

t.test('credentials of clone URLs are masked; everything else is kept', async (t) => {
  t.equal(redactUrl('https://alice:s3cret@example.com/r.git'), 'https://alice:***@example.com/r.git');
  t.equal(redactUrl('https://ghp_token123@github.com/o/r.git'), 'https://***@github.com/o/r.git', 'a user part alone is often a token');
  t.equal(redactUrl('https://example.com/r.git'), 'https://example.com/r.git');
  t.equal(redactUrl('git@github.com:o/r.git'), 'git@github.com:o/r.git', 'scp-like sources carry no secret');
  t.equal(redactUrl('/srv/repos/r'), '/srv/repos/r');
  t.equal(redactIn('fatal: unable to access https://alice:p%40ss@h/r: p@ss rejected', 'https://alice:p%40ss@h/r'), 'fatal: unable to access https://alice:***@h/r: *** rejected', 'encoded and decoded forms');
});

t.test('a clone that fails names the source without its credentials', async (t) => {
  const root = tempDir(t, 'omoi-redact-');
  const source = 'https://alice:s3cret-token@127.0.0.1:9/nothing.git'; // port 9: refused at once
  const err = await ensureClone(source, path.join(root, 'clone')).then(() => undefined, (e: Error & { details?: unknown }) => e);
  t.ok(err, 'the clone fails');
  t.match(err!.message, 'https://alice:***@127.0.0.1:9/nothing.git', 'the source is named');
  t.notMatch(err!.message, 's3cret', 'without the password');
  t.notMatch(JSON.stringify((err as { details?: unknown }).details), 's3cret', 'also in the details');
});
