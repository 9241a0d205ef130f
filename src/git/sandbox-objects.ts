import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { inflate } from 'node:zlib';
import { RetryableError, TerminalError } from '../errors.ts';
import { runGitCli } from './git-cli.ts';

const inflateAsync = promisify(inflate);
const LOOSE_DIR = /^[0-9a-f]{2}$/;
const LOOSE_NAME = /^(?:[0-9a-f]{38}|[0-9a-f]{62})$/; // SHA-1 or SHA-256 object names

/**
 * Copies the objects a task made in its sandbox repository (`<sandboxDir>/.git/objects`; see
 * src/git/sandbox-repo.ts) into the clone whose git dir is `cloneGitDir`, so the clone has the
 * task's commit before its branch is moved there. Call once the task's processes are gone.
 *
 * Each loose object the clone lacks is inflated and hashed first: a file whose content does
 * not hash to its name (a task could plant one under the name of an object another task will
 * write later) is refused with `TerminalError('bad_object')` and nothing of it reaches the
 * clone. The bytes written are the bytes verified, to a temporary name, then renamed into
 * place (git's own way: a reader never sees half an object). Packs (a task that ran `git gc`)
 * go through `git index-pack`, which verifies every object. Returns how many loose objects and
 * packs were imported.
 */
export async function importSandboxObjects(sandboxDir: string, cloneGitDir: string): Promise<number> {
  const from = path.join(sandboxDir, '.git', 'objects');
  const to = path.join(cloneGitDir, 'objects');
  const fanout = (await readdir(from).catch(() => [] as string[])).filter((d) => LOOSE_DIR.test(d));
  const counts = await Promise.all(fanout.map((d) => importLooseDir(path.join(from, d), path.join(to, d), d)));
  let imported = counts.reduce((a, b) => a + b, 0);
  const packs = (await readdir(path.join(from, 'pack')).catch(() => [] as string[])).filter((f) => f.endsWith('.pack'));
  for (const pack of packs) {
    await importPack(path.join(from, 'pack', pack), to);
    imported++;
  }
  return imported;
}

async function importLooseDir(fromDir: string, toDir: string, prefix: string): Promise<number> {
  const names = (await readdir(fromDir).catch(() => [] as string[])).filter((n) => LOOSE_NAME.test(n));
  let imported = 0;
  for (const name of names) {
    const target = path.join(toDir, name);
    if (await exists(target)) continue; // the clone has it (objects are immutable, named by content)
    const bytes = await readFile(path.join(fromDir, name));
    const id = prefix + name;
    const content = await inflateAsync(bytes).catch(() => {
      throw new TerminalError('bad_object', `the sandbox's object ${id} is not a valid loose object`, { object: id });
    });
    const actual = createHash(id.length === 40 ? 'sha1' : 'sha256').update(content).digest('hex');
    if (actual !== id) throw new TerminalError('bad_object', `the sandbox's object ${id} holds content that hashes to ${actual}`, { object: id });
    await writeLooseObject(toDir, target, bytes);
    imported++;
  }
  return imported;
}

/**
 * Writes `bytes` to a temporary name in the fan-out directory `dir`, then renames it to
 * `target`. A `git gc` in the clone (git's automatic one after a fetch) removes fan-out
 * directories it emptied while we write: like git itself, make the directory again and retry.
 */
async function writeLooseObject(dir: string, target: string, bytes: Buffer): Promise<void> {
  for (let tries = 1; ; tries++) {
    await mkdir(dir, { recursive: true });
    const temp = path.join(dir, `tmp_obj_omoi_${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(temp, bytes, { mode: 0o444 });
      await rename(temp, target); // the temporary file keeps the directory from being removed
      return;
    } catch (err) {
      await rm(temp, { force: true });
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || tries >= 10) throw err;
    }
  }
}

/** Copies `pack` into the clone's pack dir under a temporary name and lets `git index-pack` verify and index it. */
async function importPack(pack: string, objectsDir: string): Promise<void> {
  const packDir = path.join(objectsDir, 'pack');
  await mkdir(packDir, { recursive: true });
  const stem = path.join(packDir, `tmp_pack_omoi_${randomBytes(6).toString('hex')}`);
  await writeFile(`${stem}.pack`, await readFile(pack));
  try {
    const run = await runGitCli(['index-pack', `${stem}.pack`], objectsDir);
    const hash = /^(?:pack\t)?([0-9a-f]{40,64})\s*$/m.exec(run.stdout)?.[1];
    if (run.code !== 0 || !hash) throw new RetryableError('bad_object', `git index-pack refused the sandbox's pack ${path.basename(pack)}: ${run.stderr.trim()}`);
    await rename(`${stem}.pack`, path.join(packDir, `pack-${hash}.pack`));
    await rename(`${stem}.idx`, path.join(packDir, `pack-${hash}.idx`)); // last: git finds a pack by its index
  } finally {
    await rm(`${stem}.pack`, { force: true });
    await rm(`${stem}.idx`, { force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}
