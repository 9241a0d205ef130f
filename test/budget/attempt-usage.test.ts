import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { attemptUsage } from '../../src/executor/attempt-usage.ts';
import { tempDir } from '../harness/index.ts';

t.test('the usage of a local attempt: the result file\'s usage with the measured wall time', async (t) => {
  t.same(await attemptUsage(1234.4, { result: { usage: { model: 'm', input_tokens: 5, cost_usd: 0.1, wall_ms: 9 } } }),
    { usage: { model: 'm', input_tokens: 5, cost_usd: 0.1, wall_ms: 1234 } }, 'the measured wall time wins');
  t.same(await attemptUsage(10, { result: { summary: 'no usage' } }), { usage: { wall_ms: 10 } });
  t.same(await attemptUsage(10, {}), { usage: { wall_ms: 10 } }, 'no result file: the wall time only');

  const bad = await attemptUsage(10, { result: { usage: { input_tokens: -1 } } });
  t.same(bad.usage, { wall_ms: 10 }, 'a malformed usage is ignored');
  t.match(bad.warning, /usage in the result file ignored: \/input_tokens/, '...with a warning naming the field');
  t.match((await attemptUsage(10, { result: { usage: 'cheap' } })).warning, /ignored/);

  const dir = await tempDir(t, 'usage');
  const file = path.join(dir, 'A.result.json');
  t.same(await attemptUsage(10, { resultFile: file }), { usage: { wall_ms: 10 } }, 'a failed attempt with no result file');
  await writeFile(file, '{"usage":{"output_tokens":7}}');
  t.same(await attemptUsage(10, { result: null, resultFile: file }), { usage: { output_tokens: 7, wall_ms: 10 } }, 'a failed attempt\'s result file is read');
  await writeFile(file, '{not json');
  t.same(await attemptUsage(10, { resultFile: file }), { usage: { wall_ms: 10 } }, 'an unreadable file is no usage, never an error');
});
