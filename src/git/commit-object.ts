import { createHash } from 'node:crypto';
import NodeGit from 'nodegit';

/**
 * A commit object as libgit2's `git_commit_create` writes it (tree, parents, author and
 * committer in UTC, a blank line, the message as given) and its sha, computed here rather than
 * by a round trip to libgit2: a chain of merge commits whose trees are already known can then
 * be hashed in order and written in one go (`writeObjects`), without reading each back.
 */
export function commitObject(tree: string, parents: string[], signature: NodeGit.Signature, message: string): CommitObject {
  const when = signature.when();
  const offset = when.offset();
  const sign = offset < 0 ? '-' : '+';
  const hhmm = `${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}${String(Math.abs(offset) % 60).padStart(2, '0')}`;
  const person = `${signature.name()} <${signature.email()}> ${when.time()} ${sign}${hhmm}`;
  const text = `tree ${tree}\n${parents.map((p) => `parent ${p}\n`).join('')}author ${person}\ncommitter ${person}\n\n${message}`;
  const bytes = Buffer.byteLength(text, 'utf8');
  const sha = createHash('sha1').update(`commit ${bytes}\0`).update(text, 'utf8').digest('hex');
  return { sha, text, bytes };
}

/** A commit object's sha, its text (UTF-8) and that text's length in bytes. */
export interface CommitObject { sha: string; text: string; bytes: number }

/**
 * Writes commit objects to the repository's object database, one after another: measured on a
 * fresh clone, 1000 loose objects take ~180 ms written in order and over a second written
 * concurrently (libgit2's loose-object writes contend).
 */
export async function writeObjects(repo: NodeGit.Repository, commits: CommitObject[]): Promise<void> {
  if (!commits.length) return;
  const odb = await repo.odb();
  for (const c of commits) {
    const id = await odb.write(c.text, c.bytes, NodeGit.Object.TYPE.COMMIT);
    if (id.tostrS() !== c.sha) throw new Error(`commit object written as ${id.tostrS()}, expected ${c.sha}`);
  }
}
