import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { TerminalError } from '../errors.ts';
import { ensureClone } from './clone.ts';
import { runGitCli } from './git-cli.ts';
import { KeyedLock } from './keyed-lock.ts';
import { remoteBreakersOf } from './remote-breakers.ts';

// The node's clone cache: one bare clone per repository, shared by every ticket on it.
//
//   <dataDir>/clones/<slug>-<hash>/      the bare clone of one repository (objects shared)
//   <dataDir>/repos/<ticket> -> ../clones/<slug>-<hash>    one symbolic link per ticket
//
// Invariants:
// 1. The clone's name derives only from the normalized source (`cloneName`), so every ticket on
//    one repository finds the same clone, and a ticket's link always points where its source says.
// 2. Tickets never share a ref they write: a ticket's branches are `omoi/<ticket>` and
//    `omoi-task/<ticket>/…`, and a fetch never writes below `omoi/` or `omoi-task/` (negative
//    refspecs in `ensureClone`), so one ticket's fetch cannot move another ticket's branches.
//    A ticket's base is a sha on its row: a later fetch moving `main` does not change it.
// 3. The network and disk work (clone, fetch) happens in `prepareTicketClone`, before the
//    message's transaction; the handler only checks the link (`attachTicketClone`), and
//    fetches itself only as a fallback when the prepare step did not run.
// 4. `sweepClones` removes a ticket's link only when no live ticket needs it (see `keepLink`)
//    and a clone only when no link points to it; both only when older than the grace period,
//    so a link made by a handler whose transaction has not committed yet is never swept, and
//    never while this process is preparing or attaching the same clone (`cloneUse`, `inFlight`).
// 5. Fetches of one clone are coalesced (`coalescedEnsureClone`): many tickets created at once
//    share a few fetches, each of which started after every ticket it serves asked for it.
// libgit2 resolves the link (a worktree's record lives under the real clone, and `repoLock`
// keys on that real path), and the git CLI works through it (`git -C repos/<ticket> log`).

/**
 * Per clone: taken briefly by a prepare step to register itself (`inFlight`) and to link, and
 * by the sweep for the whole of its check and removal, so a clone is never removed while a
 * ticket is being prepared or linked on it, and a prepare step never fetches into a clone
 * being removed.
 */
const cloneUse = new KeyedLock();
/** Prepare steps running per clone (registered under `cloneUse`). */
const inFlight = new Map<string, number>();
/**
 * Fetches of one clone, coalesced: at most one running and one queued; every caller that
 * arrives while one is running shares the queued one, which starts after the running one ends,
 * so each caller still gets a fetch that began after it asked. Tickets published at once on
 * one repository thus cost a few fetches, not one each.
 */
const fetches = new Map<string, { running?: Promise<void>; queued?: Promise<void> }>();

function coalescedEnsureClone(dataDir: string, source: string, clone: string): Promise<void> {
  const s = fetches.get(clone) ?? {};
  fetches.set(clone, s);
  const run = (): Promise<void> => {
    // Through the node's breaker of the remote (src/git/remote-breakers.ts): a dead remote is not hammered.
    const p = ensureClone(source, clone, remoteBreakersOf(dataDir)).finally(() => {
      if (s.running === p) s.running = undefined;
      if (!s.running && !s.queued) fetches.delete(clone);
    });
    s.running = p;
    return p;
  };
  if (!s.running) return run();
  s.queued ??= s.running.catch(() => undefined).then(() => {
    s.queued = undefined;
    return run();
  });
  return s.queued;
}

/** The per-ticket path every component uses: `<dataDir>/repos/<ticket>` (a link to the shared clone). */
export function ticketRepoDir(dataDir: string, ticketId: string): string {
  return path.join(dataDir, 'repos', ticketId);
}

/** Where the shared clones live: `<dataDir>/clones`. */
export function clonesRoot(dataDir: string): string {
  return path.join(dataDir, 'clones');
}

/**
 * The normalized identity of a repository source: an absolute, symlink-free path for a local
 * repository (a non-bare repository's `.git` names its parent, but `foo.git` stays apart from
 * `foo`: often a bare origin beside a working copy, two repositories); for a URL, scheme and
 * host in lower case, without a trailing `/` or `.git`.
 */
export function normalizeSource(source: string): string {
  const trimmed = source.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/]*)(.*)$/i.exec(trimmed)!;
    return `${m[1].toLowerCase()}${m[2].toLowerCase()}${stripGit(m[3])}`;
  }
  if (/^[^/\\]+@[^/\\]+:/.test(trimmed)) return stripGit(trimmed); // scp-like user@host:path
  let local = path.resolve(trimmed);
  try {
    local = realpathSync(local);
  } catch {
    // not there (yet): the error comes from ensureClone
  }
  return path.basename(local) === '.git' ? path.dirname(local) : local.replace(/\/+$/, '') || local;
}

function stripGit(p: string): string {
  return p.replace(/\/+$/, '').replace(/\.git$/, '').replace(/\/+$/, '') || p;
}

/** `<slug>-<hash>`: readable, and unique per normalized source (12 hex digits of SHA-256). */
export function cloneName(source: string): string {
  const key = normalizeSource(source);
  const slug = path.basename(key.replace(/:/g, '/')).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '').slice(0, 40) || 'repo';
  return `${slug}-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/** The shared clone of `source` on this node. */
export function sharedCloneDir(dataDir: string, source: string): string {
  return path.join(clonesRoot(dataDir), cloneName(source));
}

/**
 * Before the transaction: makes or fetches the shared clone of `source` and points the
 * ticket's link at it. Slow (network, disk); idempotent, safe to repeat and to run for many
 * tickets at once (fetches of one clone are coalesced). Throws what `ensureClone` throws
 * (`TerminalError('repository_unavailable')`, `RetryableError('repository_fetch_failed')`).
 */
export async function prepareTicketClone(dataDir: string, ticketId: string, source: string): Promise<void> {
  await cloneAndLink(dataDir, ticketId, source, false);
}

/**
 * `replace: false` (the prepare step, before anything was checked) never re-points an existing
 * link: a duplicate `ticket.create` naming another repository must not move a live ticket's
 * link. The handler (`attachTicketClone`, after its checks) passes `replace: true`.
 */
async function cloneAndLink(dataDir: string, ticketId: string, source: string, replace: boolean): Promise<void> {
  const clone = sharedCloneDir(dataDir, source);
  await preparing(clone, async () => {
    await coalescedEnsureClone(dataDir, source, clone);
    await cloneUse.run(clone, () => link(dataDir, ticketId, clone, replace));
  });
}

/** Runs `work` registered as a prepare step of `clone` (the sweep leaves such a clone alone). */
async function preparing<T>(clone: string, work: () => Promise<T>): Promise<T> {
  await cloneUse.run(clone, async () => void inFlight.set(clone, (inFlight.get(clone) ?? 0) + 1));
  try {
    return await work();
  } finally {
    const left = (inFlight.get(clone) ?? 1) - 1;
    if (left > 0) inFlight.set(clone, left);
    else inFlight.delete(clone);
  }
}

/**
 * Before the transaction: fetches the clone a ticket's link points to (e.g. a conflict
 * resolution was pushed to the source), from the source recorded in it. A ticket without a
 * link has nothing to fetch (its handler decides what that means). Throws like `ensureClone`.
 */
export async function refreshTicketClone(dataDir: string, ticketId: string): Promise<void> {
  const clone = await linkedClone(dataDir, ticketId);
  if (!clone) return;
  const url = await runGitCli(['config', '--get', 'remote.origin.url'], clone);
  if (url.code === 0 && url.stdout.trim()) await preparing(clone, () => coalescedEnsureClone(dataDir, url.stdout.trim(), clone));
}

/**
 * In the handler (inside the transaction): makes sure the ticket's link points at the shared
 * clone of `source`. Fast when the prepare step ran (a `readlink`); otherwise (a message
 * handled without it, a link removed meanwhile) it clones or fetches itself, the old behaviour.
 * With `want` (a commit or ref the caller is about to resolve), a clone that lacks it is fetched.
 */
export async function attachTicketClone(dataDir: string, ticketId: string, source: string, want?: string): Promise<void> {
  const clone = sharedCloneDir(dataDir, source);
  const has = async (dir: string) => !want || (await runGitCli(['rev-parse', '--verify', '--quiet', `${want}^{commit}`], dir)).code === 0;
  if ((await linkedClone(dataDir, ticketId)) === clone && existsSync(path.join(clone, 'HEAD'))) {
    if (await has(clone)) return;
  }
  const at = ticketRepoDir(dataDir, ticketId);
  const st = await lstat(at).catch(() => null);
  if (st?.isDirectory() && existsSync(path.join(at, 'HEAD'))) {
    // A data dir from before the clone cache: the ticket keeps its own full clone.
    if (!(await has(at))) await ensureClone(source, at, remoteBreakersOf(dataDir));
    return;
  }
  await cloneAndLink(dataDir, ticketId, source, true);
}

/** The shared clone the ticket's link points to (absolute), or `null` without a link. */
export async function linkedClone(dataDir: string, ticketId: string): Promise<string | null> {
  const at = ticketRepoDir(dataDir, ticketId);
  try {
    return path.resolve(path.dirname(at), await readlink(at));
  } catch {
    return null;
  }
}

/** Points `repos/<ticket>` at `clone` (a relative link, so the data dir can move), atomically. */
async function link(dataDir: string, ticketId: string, clone: string, replace: boolean): Promise<void> {
  const at = ticketRepoDir(dataDir, ticketId);
  const current = await linkedClone(dataDir, ticketId);
  if (current === clone || (current && !replace)) return;
  await mkdir(path.dirname(at), { recursive: true });
  const st = await lstat(at).catch(() => null);
  if (st && !st.isSymbolicLink()) {
    // A data dir from before the clone cache: the ticket's own full clone. Keep using it.
    if (st.isDirectory() && existsSync(path.join(at, 'HEAD'))) return;
    throw new TerminalError('clone_dir_occupied', `${at} exists and is not a link to a clone; refusing to overwrite it`, { cloneDir: at });
  }
  const tmp = `${at}.link-${process.pid}-${Date.now()}`;
  await symlink(path.relative(path.dirname(at), clone), tmp);
  await rename(tmp, at);
}

/** What the sweep needs to know about a ticket: its row's status and last change, if it has a row. */
export interface TicketLiveness { status: string; updatedAt: Date }

export interface SweepOptions {
  /** The rows of these tickets (missing from the map: no row). */
  tickets: (ids: string[]) => Promise<Map<string, TicketLiveness>>;
  /** A finished (completed, failed, cancelled) ticket keeps its link this long after its last change, ms. */
  retainFinishedMs: number;
  /** Links and clones younger than this are never removed (a transaction may still commit their ticket), ms. */
  graceMs: number;
  /** Called with a clone's directory just before it is removed (e.g. to drop pooled sandboxes of it). */
  beforeRemove?: (clone: string) => Promise<void>;
  now?: Date;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/** Whether a ticket still needs its link: unfinished, or finished less than `retainFinishedMs` ago. */
export function keepLink(row: TicketLiveness | undefined, now: Date, retainFinishedMs: number): boolean {
  if (!row) return false;
  if (!FINISHED.has(row.status)) return true;
  return now.getTime() - row.updatedAt.getTime() < retainFinishedMs;
}

/**
 * Removes the links of tickets that no longer need them (`keepLink`: no row, or finished longer
 * than `retainFinishedMs` ago) and then every shared clone no link points to, skipping anything
 * younger than `graceMs`. Never touches a clone a link of a ticket that needs it points to.
 * Returns what it removed (link names and clone names). Errors removing one entry are skipped.
 */
export async function sweepClones(dataDir: string, o: SweepOptions): Promise<{ links: string[]; clones: string[] }> {
  const now = o.now ?? new Date();
  const young = async (file: string) => (await lstat(file).then((s) => now.getTime() - s.mtimeMs < o.graceMs, () => true));
  const reposDir = path.join(dataDir, 'repos');
  const all = await readdir(reposDir).catch(() => [] as string[]);
  // A link being made is `<ticket>.link-<pid>-<time>` until renamed; one a crash left is dropped.
  for (const name of all.filter((n) => n.includes('.link-'))) {
    if (!(await young(path.join(reposDir, name)))) await rm(path.join(reposDir, name), { force: true }).catch(() => undefined);
  }
  const names = all.filter((n) => !n.includes('.link-'));
  const rows = names.length ? await o.tickets(names) : new Map<string, TicketLiveness>();
  const removedLinks: string[] = [];
  const used = new Set<string>();
  for (const name of names) {
    const at = path.join(reposDir, name);
    const st = await lstat(at).catch(() => null);
    if (!st?.isSymbolicLink()) continue; // a pre-cache full clone: left as it was
    const target = await linkedClone(dataDir, name);
    if (keepLink(rows.get(name), now, o.retainFinishedMs) || (await young(at))) {
      if (target) used.add(target);
      continue;
    }
    await rm(at, { force: true }).then(() => removedLinks.push(name), () => target && used.add(target));
  }
  const removedClones: string[] = [];
  const root = clonesRoot(dataDir);
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const clone = path.join(root, name);
    if (used.has(clone) || name.includes('.partial-')) continue;
    await cloneUse.run(clone, async () => {
      // Checked again under the lock: a ticket may have linked to it since the scan.
      if (inFlight.has(clone) || (await young(clone)) || (await anyLinkTo(reposDir, clone))) return;
      await o.beforeRemove?.(clone);
      await rm(clone, { recursive: true, force: true });
      removedClones.push(name);
    }).catch(() => undefined);
  }
  return { links: removedLinks.sort(), clones: removedClones.sort() };
}

async function anyLinkTo(reposDir: string, clone: string): Promise<boolean> {
  for (const name of await readdir(reposDir).catch(() => [] as string[])) {
    const at = path.join(reposDir, name);
    const target = await readlink(at).then((t) => path.resolve(reposDir, t), () => null);
    if (target === clone) return true;
  }
  return false;
}
