import t from 'tap';
import { TerminalError } from '../../src/errors.ts';
import { toCommand } from '../../src/task-api/index.ts';

// What a task API request becomes: always the attempt's own ticket, task and attempt.
const own = { ticket_id: 'T1', task_id: 'A', attempt: 2 };
const spec = { id: 'B', run: 'make b', owns: ['src/b/**'] };

t.test('add sends the body as the task of task.add on the attempt\'s ticket', async (t) => {
  t.same(toCommand('add', spec, own), { type: 'task.add', payload: { ticket_id: 'T1', task: spec } });
});

t.test('split and progress name the attempt\'s own task; its own ids may be repeated, not others', async (t) => {
  const split = { tasks: [spec], continuation: { id: 'C', run: 'make c' } };
  t.same(toCommand('split', split, own), { type: 'task.split', payload: { ...split, ticket_id: 'T1', task_id: 'A' } });
  t.same(toCommand('split', { ...split, ticket_id: 'T1', task_id: 'A', attempt: 2 }, own).payload, { ...split, ticket_id: 'T1', task_id: 'A' }, 'own ids: dropped, not a schema error');
  t.same(toCommand('progress', { message: 'half', percent: 50 }, own), { type: 'task.progress', payload: { message: 'half', percent: 50, ...own } });
  for (const [key, value] of [['ticket_id', 'T2'], ['task_id', 'B'], ['attempt', 1]] as const) {
    t.throws(() => toCommand('split', { ...split, [key]: value }, own), new TerminalError('not_own_attempt', `this attempt may only act on ${key} ${JSON.stringify(own[key])}, not ${JSON.stringify(value)}`, { field: `/${key}` }, 403), `another ${key} is refused`);
  }
  t.throws(() => toCommand('progress', { attempt: 3 }, own), { code: 'not_own_attempt', status: 403 }, 'another attempt of the same task too');
});

t.test('a body that is not a JSON object is invalid_body', async (t) => {
  for (const body of [null, [], 'text', 3]) t.throws(() => toCommand('add', body, own), { code: 'invalid_body', status: 400 });
});
