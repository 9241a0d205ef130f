import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { tempDir } from '../harness/index.ts';
import { runOmoi } from './run-omoi.ts';

/** Each case: the environment, the setting the one line must name, and what it must say. */
const CASES: Array<{ env: Record<string, string>; setting: string; says: RegExp }> = [
  { env: { OMOI_HTTP_PORT: 'abc' }, setting: 'OMOI_HTTP_PORT', says: /integer/ },
  { env: { OMOI_PARTITIONS: '0' }, setting: 'OMOI_PARTITIONS', says: /from 1 to/ },
  { env: { DATABASE_URL: 'mysql://x' }, setting: 'DATABASE_URL', says: /postgres/ },
  { env: { OMOI_LOG_LEVEL: 'loud' }, setting: 'OMOI_LOG_LEVEL', says: /one of/ },
  { env: { OMOI_RESTART_BACKOFF_MS: '500', OMOI_RESTART_BACKOFF_MAX_MS: '100' }, setting: 'OMOI_RESTART_BACKOFF_MAX_MS', says: /at least/ },
  { env: { OMOI_RETENTION_PROCESSED_MS: '60000' }, setting: 'OMOI_RETENTION_PROCESSED_MS', says: /at least the streams' duplicate window, 600000 ms/ },
];

for (const c of CASES) {
  t.test(`omoi start with ${JSON.stringify(c.env)} exits 2 with one line naming ${c.setting}`, async (t) => {
    const dataDir = await tempDir(t, 'cli-config');
    const r = await runOmoi(['start'], { OMOI_DATA_DIR: dataDir, ...c.env });
    assertConfigFailure(t, r, c.setting, c.says);
  });
}

t.test('a config file with an unknown key is refused, naming the key', async (t) => {
  const dir = await tempDir(t, 'cli-config');
  const file = path.join(dir, 'omoi.yaml');
  await writeFile(file, 'partitions: 8\nhttpPortt: 7071\n');
  const r = await runOmoi(['start'], { OMOI_DATA_DIR: dir, OMOI_CONFIG: file });
  assertConfigFailure(t, r, 'OMOI_CONFIG', /unknown setting "httpPortt"/);
});

t.test('a config file with an invalid value is refused, naming the setting', async (t) => {
  const dir = await tempDir(t, 'cli-config');
  const file = path.join(dir, 'omoi.yaml');
  await writeFile(file, 'partitions: lots\n');
  const r = await runOmoi(['start'], { OMOI_DATA_DIR: dir, OMOI_CONFIG: file });
  assertConfigFailure(t, r, 'OMOI_PARTITIONS', /integer/);
});

t.test('other commands report invalid configuration the same way', async (t) => {
  const r = await runOmoi(['dlq', 'list'], { DATABASE_URL: 'mysql://x' });
  assertConfigFailure(t, r, 'DATABASE_URL', /postgres/);
});

function assertConfigFailure(t: Test, r: { code: number | null; stdout: string; stderr: string }, setting: string, says: RegExp): void {
  t.equal(r.code, 2, 'exit code 2');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  t.equal(lines.length, 1, `exactly one stderr line (got ${JSON.stringify(r.stderr)})`);
  t.match(lines[0], new RegExp(`^omoi: invalid configuration: ${setting}: `), 'names the setting');
  t.match(lines[0], says, 'says what is wrong');
  t.notMatch(r.stderr + r.stdout, /^\s+at /m, 'no stack trace');
  t.equal(r.stdout, '', 'nothing on stdout: the node did not start');
}
