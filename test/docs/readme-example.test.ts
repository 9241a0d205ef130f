import fs from 'node:fs';
import t from 'tap';
import { validatePayload } from '../../src/protocol/index.ts';
import { validateTasks } from '../../src/dag/index.ts';

t.test("the README's example ticket is valid input", async (t) => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const block = /```json\n([\s\S]*?)```/.exec(readme);
  t.ok(block, 'the README has a JSON example');
  const ticket = JSON.parse(block![1]);
  const valid = validatePayload<any>('ticket.create', ticket);
  t.doesNotThrow(() => validateTasks(valid.tasks), 'its DAG is valid');
  t.same(valid.tasks.find((x: any) => x.id === 'D').depends_on, ['B', 'C'], 'D joins B and C');
});
