import { defineConfig } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { ENTITIES } from './src/persistence/entities/index.ts';
import { MIGRATIONS } from './src/persistence/migrations/index.ts';

/**
 * The ORM configuration, shared by the node (`src/persistence/database.ts`) and the
 * MikroORM CLI. Migrations are listed explicitly (no file globbing), so they load the same
 * under tsx, tap and a build.
 */
export function ormConfig(clientUrl: string) {
  return defineConfig({
    clientUrl,
    entities: ENTITIES,
    extensions: [Migrator],
    migrations: { migrationsList: MIGRATIONS, transactional: true, allOrNothing: true, tableName: 'omoi_migrations', silent: true },
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    // Partition workers hold a connection per batch transaction; leases and HTTP need some too.
    pool: { min: 1, max: 24 },
    debug: false,
    allowGlobalContext: false,
  });
}

export default ormConfig(process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/omoi');
