import t from 'tap';
import { jsonLine, prettyLine } from '../../src/cli/index.ts';
import { makeEnvelope } from '../../src/protocol/index.ts';

const bytes = (s: string) => Buffer.from(s);

t.test('jsonLine: subject and data, data parsed when it is JSON', async (t) => {
  t.same(JSON.parse(jsonLine('omoi.evt.x', bytes('{"a":1}'))), { subject: 'omoi.evt.x', data: { a: 1 } });
  t.same(JSON.parse(jsonLine('foo', bytes('not json'))), { subject: 'foo', data: 'not json' });
});

t.test('prettyLine: envelope time and type, then the key fields in order', async (t) => {
  const time = new Date(2026, 0, 1, 9, 8, 7, 6);
  const env = makeEnvelope('task.status', { ticket_id: 'T1', task_id: 'B', status: 'completed', commit: '0123456789abcdef0123456789abcdef01234567', ignored: 'x' }, { source: 's', time });
  t.equal(prettyLine('omoi.evt.task.status', bytes(JSON.stringify(env))), '09:08:07.006 task.status ticket_id=T1 task_id=B status=completed commit=0123456789ab');
  const rejected = makeEnvelope('error.rejected', { code: 'schema_violation', reason: '/payload/x: Expected integer', subject: 's' }, { source: 's', time });
  t.equal(prettyLine('omoi.errors.schema_violation', bytes(JSON.stringify(rejected))), '09:08:07.006 error.rejected code=schema_violation reason="/payload/x: Expected integer"');
});

t.test('prettyLine: a bare payload takes its type from the subject; text is shown shortened', async (t) => {
  const now = new Date(2026, 0, 1, 1, 2, 3, 4);
  t.equal(prettyLine('omoi.in.task.cancel', bytes('{"ticket_id":"T1","task_id":"B"}'), now), '01:02:03.004 task.cancel ticket_id=T1 task_id=B');
  const long = prettyLine('other.subject', bytes('x'.repeat(500)), now);
  t.match(long, /^01:02:03\.004 other\.subject x+…$/);
  t.ok(long.length < 130, 'shortened');
});
