import t from 'tap';
import { lookup, validatePayload } from '../../src/protocol/index.ts';

t.test('date-time fields take RFC 3339 times with a zone and refuse anything else', async (t) => {
  const example = lookup('alert.raised')!.example as Record<string, unknown>;
  t.doesNotThrow(() => validatePayload('alert.raised', example), 'the documented example is valid');
  for (const ok of ['2026-12-02T12:00:00Z', '2026-12-02T12:00:00.123+01:00', new Date().toISOString()]) {
    t.doesNotThrow(() => validatePayload('alert.raised', { ...example, first_raised_at: ok }), ok);
  }
  for (const bad of ['yesterday', '2026-12-02', '2026-12-02 12:00:00Z', '2026-12-02T12:00:00', '2026-13-45T99:00:00Z']) {
    t.throws(() => validatePayload('alert.raised', { ...example, last_raised_at: bad }), { code: 'schema_violation', path: '/payload/last_raised_at' }, JSON.stringify(bad));
  }
});
