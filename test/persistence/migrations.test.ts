import t from 'tap';
import { pino } from 'pino';
import { openDatabase } from '../../src/persistence/index.ts';
import { withPostgres } from '../harness/index.ts';

t.test('migrations create exactly the schema the entities describe, and are idempotent', async (t) => {
  const pg = await withPostgres(t);
  const log = pino({ level: 'silent' });
  const db = await openDatabase(pg.url, log);
  const drift = await db.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
  t.equal(drift.trim(), '', `no difference between entities and migrated schema${drift ? `:\n${drift}` : ''}`);
  await db.close();
  const again = await openDatabase(pg.url, log);
  t.teardown(() => again.close());
  const pending = await again.orm.getMigrator().getPendingMigrations();
  t.same(pending, [], 'a second start applies nothing');
});
