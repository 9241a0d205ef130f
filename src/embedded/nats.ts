/**
 * Embedded NATS: a `nats-server -js` child process (Debian package `nats-server`, 2.9.x) with
 * its JetStream store in a directory of ours; what a node runs when no `NATS_URL` is
 * configured, and what every test file gets as its own server.
 *
 * Lifetime and crash safety:
 * - The server runs in its own process group, so a Ctrl-C aimed at us does not kill it
 *   before we have drained; we stop it (`stop()`).
 * - Once our process is gone without stopping it (normal exit, crash, SIGKILL), the orphan
 *   watchdog (`watchdog.ts`) stops it within a second. Without the watchdog, a normal exit
 *   still signals it.
 * - A server recorded in the store dir by an owner that has since died is stopped at start;
 *   if its owner is still alive, start fails: two servers must never share a store.
 *
 * Authorization: off unless `authorization` is given (a node's users, src/embedded/nats-auth.ts);
 * the config file is rewritten at every start, and `reloadEmbeddedNats` applies a rewritten one
 * to the running server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, realpath, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OmoiError } from '../errors.ts';
import { acceptsConnections } from './free-port.ts';
import { OutputLines } from './output-lines.ts';
import { isRunning, listPids, processArgs, terminate } from './processes.ts';
import { isOwnerAlive, readServerRecord, removeServerRecord, writeServerRecord } from './server-record.ts';
import { startWatchdog, type Watchdog } from './watchdog.ts';

export interface EmbeddedNats {
  /** `nats://127.0.0.1:<port>`; the same across `restart()`. */
  url: string;
  port: number;
  /** Pid of the current server process (changes on `restart()`). */
  pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s); idempotent. The store is kept. */
  stop(): Promise<void>;
  /** Sends SIGKILL to the server, to simulate a crash; `restart()` brings it back. */
  kill9(): void;
  /** Stops the server (if running) and starts it again on the same port and store. */
  restart(): Promise<void>;
}

export interface StartEmbeddedNatsOptions {
  /** JetStream store directory (created if missing); our config and pid record live here too. */
  storeDir: string;
  /** Client port on 127.0.0.1; 0 or undefined lets the server pick a free one. */
  port?: number;
  /** Receives the server's output, line by line. */
  log: (line: string) => void;
  /** Stop the server when this process dies, even by SIGKILL (default true). */
  watchdog?: boolean;
  /** How long the server may take to become ready (default 30 s). */
  startTimeoutMs?: number;
  /**
   * The config's `authorization { ... }` block, asked at every (re)start so that users added
   * since are in; undefined → no authentication (the test harness's default).
   */
  authorization?: () => string | Promise<string>;
}

const RECORD_FILE = 'omoi-nats-server.json';
const CONFIG_FILE = 'omoi-nats-server.conf';
/** Generous message size limit (the server's own maximum recommendation is 8 MB). */
const MAX_PAYLOAD = 8 * 1024 * 1024;
const SEARCH_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/sbin', '/bin'];

/**
 * Writes the embedded server's config file in `storeDir` (mode 0600: it may hold passwords):
 * our limits, JetStream with its store, and `authorization` when given. JetStream is in
 * the file, not on the command line, because a reload applies the file: a reload
 * (`reloadEmbeddedNats`) of a server given `-js -sd` shuts JetStream down, or is refused.
 */
export async function writeEmbeddedNatsConfig(storeDir: string, authorization?: string): Promise<string> {
  storeDir = await realpath(storeDir); // as the running server has it: a reload must see the same store
  const file = path.join(storeDir, CONFIG_FILE);
  const text = [
    '# Written by Omoi for the embedded nats-server.',
    `max_payload: ${MAX_PAYLOAD}`,
    `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
    authorization ?? '',
  ].join('\n');
  // Whole or not at all, and private from the first byte: a reload never reads half a file,
  // and an older, wider-open file is replaced rather than rewritten in place.
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
  return file;
}

/**
 * Makes the embedded nats-server running on `storeDir`, if any, reload its config file
 * (SIGHUP: nats-server applies changed users and permissions without dropping other
 * clients). Resolves with its pid, or undefined when none runs there (it reads the file at
 * its next start anyway).
 */
export async function reloadEmbeddedNats(storeDir: string): Promise<number | undefined> {
  const dir = await realpath(storeDir).catch(() => path.resolve(storeDir));
  const record = await readServerRecord(path.join(dir, RECORD_FILE));
  if (!record || !(await isNatsServerOf(record.serverPid, dir))) return undefined;
  process.kill(record.serverPid, 'SIGHUP');
  return record.serverPid;
}

/**
 * Path of the `nats-server` binary in `dirs` (default: PATH, then /usr/sbin, /usr/bin, ...).
 * Throws `OmoiError` `nats_server_missing`, saying what to install, if there is none.
 */
export async function findNatsServer(
  dirs: string[] = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SEARCH_DIRS],
): Promise<string> {
  for (const dir of dirs) {
    const candidate = path.join(dir, 'nats-server');
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new OmoiError(
    'nats_server_missing',
    `nats-server is not installed (looked in ${dirs.join(', ')}): install it with ` +
      '`apt-get install nats-server` (Debian/Ubuntu), or set NATS_URL to a NATS server with JetStream enabled',
  );
}

/**
 * Starts `nats-server -js` on 127.0.0.1 with its store in `opts.storeDir` and resolves once it
 * logged "Server is ready" and accepts TCP connections. Fails with `OmoiError`
 * `nats_start_failed` (quoting the server's last output) if it exits or times out first.
 */
export async function startEmbeddedNats(opts: StartEmbeddedNatsOptions): Promise<EmbeddedNats> {
  const binary = await findNatsServer();
  const storeDir = path.resolve(opts.storeDir);
  await mkdir(storeDir, { recursive: true });
  const server = new NatsServer(binary, await realpath(storeDir), opts);
  await server.start(opts.port ?? 0);
  return server;
}

class NatsServer implements EmbeddedNats {
  private child: ChildProcess | undefined;
  private watchdog: Watchdog | undefined;
  private boundPort = 0;
  /** Start, stop and restart run one at a time, in call order. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly onExit = () => {
    // A normal exit of our process: we cannot wait, but can ask the server to shut down.
    if (this.child?.pid) this.signal('SIGTERM');
  };

  constructor(
    private readonly binary: string,
    private readonly storeDir: string,
    private readonly opts: StartEmbeddedNatsOptions,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  stop(): Promise<void> {
    return this.serially(() => this.stopNow());
  }

  restart(): Promise<void> {
    return this.serially(async () => {
      await this.stopNow();
      await this.startNow(this.boundPort);
    });
  }

  kill9(): void {
    this.signal('SIGKILL');
  }

  start(port: number): Promise<void> {
    return this.serially(() => this.startNow(port));
  }

  private serially<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private signal(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (!pid || this.child!.exitCode !== null || this.child!.signalCode !== null) return;
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }

  private async startNow(port: number): Promise<void> {
    await this.stopStaleServer();
    const config = await writeEmbeddedNatsConfig(this.storeDir, await this.opts.authorization?.());
    const output = new OutputLines(this.opts.log);
    const child = spawn(
      this.binary,
      ['-c', config, '-a', '127.0.0.1', '-p', String(port || -1)],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const spawnFailed = new Promise<Error>((resolve) => child.once('error', resolve));
    // Listen at once: a server that fails at once (a taken port) exits while we write its record.
    const ready = this.waitUntilReady(child, output, spawnFailed);
    ready.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    if (child.pid) {
      await writeServerRecord(path.join(this.storeDir, RECORD_FILE), child.pid);
      // With a watchdog, our exit (of any kind) is its cue; without one, a normal exit signals the server.
      if (this.opts.watchdog ?? true) this.watchdog = startWatchdog({ serverPid: child.pid, signal: 'TERM', graceSeconds: 10 });
      else process.on('exit', this.onExit);
    }
    try {
      this.boundPort = await ready;
    } catch (err) {
      await this.stopNow();
      throw err;
    }
    child.on('exit', (code, signal) => output.push(`nats-server (pid ${child.pid}) exited (code ${code}, signal ${signal})\n`));
    // Our process's lifetime must not depend on the server's: see the exit handler and watchdog.
    child.unref();
    for (const stream of [child.stdout, child.stderr]) (stream as { unref?: () => void } | null)?.unref?.();
  }

  /** Resolves with the client port once the server is ready and accepts TCP connections. */
  private waitUntilReady(child: ChildProcess, output: OutputLines, spawnFailed: Promise<Error>): Promise<number> {
    const timeoutMs = this.opts.startTimeoutMs ?? 30_000;
    return new Promise<number>((resolve, reject) => {
      let listening = 0;
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        output.flush();
        reject(new OmoiError(
          'nats_start_failed',
          `nats-server (store ${this.storeDir}) ${why}. Last output:\n${output.tail() || '(none)'}`,
          { storeDir: this.storeDir },
        ));
      };
      const timer = setTimeout(() => fail(`was not ready within ${timeoutMs} ms`), timeoutMs);
      const onLine = async (line: string) => {
        const match = /Listening for client connections on [^\s]*:(\d+)/.exec(line);
        if (match) listening = Number(match[1]);
        if (!line.includes('Server is ready') || settled) return;
        // The log line comes after the listener is up; still, confirm from the outside.
        while (!settled && !(await acceptsConnections('127.0.0.1', listening))) {
          await new Promise((r) => setTimeout(r, 50));
        }
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(listening);
      };
      const onData = (chunk: Buffer) => {
        for (const line of output.push(chunk)) void onLine(line);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      // `close`, not `exit`: after the output is read too, so the error carries the server's last words.
      child.once('close', (code, signal) => fail(`exited during start (code ${code}, signal ${signal})`));
      void spawnFailed.then((err) => fail(`could not be spawned: ${err.message}`));
    });
  }

  private async stopNow(): Promise<void> {
    const child = this.child;
    process.off('exit', this.onExit);
    if (child?.pid) {
      await terminate(child.pid, [{ signal: 'SIGTERM', waitMs: 10_000 }]);
      await removeServerRecord(path.join(this.storeDir, RECORD_FILE));
    }
    this.watchdog?.dismiss();
    this.watchdog = undefined;
  }

  /** Stops a server on this store left running by an owner that died (e.g. `kill -9`). */
  private async stopStaleServer(): Promise<void> {
    const recordFile = path.join(this.storeDir, RECORD_FILE);
    const record = await readServerRecord(recordFile);
    const stale = new Set(await serversUsingStore(this.storeDir));
    if (record && (await isNatsServerOf(record.serverPid, this.storeDir))) {
      if (await isOwnerAlive(record)) {
        throw new OmoiError(
          'nats_store_in_use',
          `the NATS store ${this.storeDir} is in use by nats-server pid ${record.serverPid} of the live process ${record.ownerPid}`,
          { storeDir: this.storeDir, serverPid: record.serverPid, ownerPid: record.ownerPid },
        );
      }
      stale.add(record.serverPid);
    }
    for (const pid of stale) {
      this.opts.log(`stopping nats-server (pid ${pid}) left running on ${this.storeDir} by a previous run`);
      await terminate(pid, [{ signal: 'SIGTERM', waitMs: 10_000 }]);
    }
    await removeServerRecord(recordFile);
  }
}

/** True if `pid` is a running nats-server with store dir `storeDir`. */
async function isNatsServerOf(pid: number, storeDir: string): Promise<boolean> {
  const args = await processArgs(pid);
  if (!args || path.basename(args[0] ?? '') !== 'nats-server') return false;
  // Ours run on `-c <store>/omoi-nats-server.conf`; those of older versions had `-sd <store>`.
  const sd = args.findIndex((arg) => arg === '-sd' || arg === '--store_dir');
  const c = args.findIndex((arg) => arg === '-c' || arg === '--config');
  const ours = (sd >= 0 && args[sd + 1] === storeDir) || (c >= 0 && args[c + 1] === path.join(storeDir, CONFIG_FILE));
  return ours && (await isRunning(pid));
}

/** Running nats-servers with this store dir that no record names (e.g. the record was lost). */
async function serversUsingStore(storeDir: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await listPids()) {
    if (pid !== process.pid && (await isNatsServerOf(pid, storeDir))) found.push(pid);
  }
  return found;
}
