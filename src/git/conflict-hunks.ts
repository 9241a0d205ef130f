import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type NodeGit from 'nodegit';
import { readConflict, type ConflictSide } from './conflicts.ts';
import { runGitCli } from './git-cli.ts';

/** Bounds of what a merge attempt keeps of its conflicts (they are stored and shown to people). */
export const HUNK_LIMITS = { files: 20, bytesPerFile: 8 * 1024, contextLines: 2 } as const;

/**
 * The conflict regions of each conflicted `file` of a merge index, as a person would see them
 * in the file: the `<<<<<<< merge-head` / `=======` / `>>>>>>> <source>` regions (diff3 style
 * would add the base; plain merge style is what the resolver is given), each with
 * `contextLines` lines around it, `...` between regions. Bounded: the first `files` files,
 * `bytesPerFile` per file (cut text ends with a line saying so). A binary side, or a file
 * deleted on one side, gets one line saying that instead of hunks. Never throws for a file
 * it cannot render (the merge's outcome matters more): that file says why.
 */
export async function conflictHunks(repo: NodeGit.Repository, index: NodeGit.Index, files: string[], sourceLabel: string): Promise<Record<string, string>> {
  const hunks: Record<string, string> = {};
  const shown = files.slice(0, HUNK_LIMITS.files);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'omoi-hunks-'));
  try {
    for (const [i, file] of shown.entries()) {
      try {
        hunks[file] = bounded(await fileHunks(repo, index, file, sourceLabel, path.join(dir, String(i))));
      } catch (err) {
        hunks[file] = `(conflict not shown: ${(err as Error).message})`;
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return hunks;
}

async function fileHunks(repo: NodeGit.Repository, index: NodeGit.Index, file: string, sourceLabel: string, stem: string): Promise<string> {
  const v = await readConflict(index, file);
  if (!v.ours || !v.theirs) return `(${!v.ours ? 'deleted on the merge head' : `deleted by ${sourceLabel}`}, changed on the other side)`;
  const [ours, base, theirs] = await Promise.all([blob(repo, v.ours), v.ancestor ? blob(repo, v.ancestor) : Buffer.alloc(0), blob(repo, v.theirs)]);
  if ([ours, base, theirs].some((b) => b.includes(0))) return '(binary file: no text hunks)';
  await Promise.all([writeFile(`${stem}.ours`, ours), writeFile(`${stem}.base`, base), writeFile(`${stem}.theirs`, theirs)]);
  // Exit code: the number of conflicts (capped at 127), negative on error; stdout: the merged text with markers.
  const run = await runGitCli(['merge-file', '-p', '-L', 'merge-head', '-L', 'base', '-L', sourceLabel, `${stem}.ours`, `${stem}.base`, `${stem}.theirs`], undefined, 30_000);
  if (run.code < 0 || run.code > 127) throw new Error(run.stderr.trim() || `git merge-file exited with ${run.code}`);
  return markedRegions(run.stdout) || '(no text conflict: the sides differ in mode or type)';
}

async function blob(repo: NodeGit.Repository, side: ConflictSide): Promise<Buffer> {
  return (await repo.getBlob(side.id)).content();
}

/** The `<<<<<<<` … `>>>>>>>` regions of `text` with `contextLines` lines around each; `...` between them. */
export function markedRegions(text: string, contextLines: number = HUNK_LIMITS.contextLines): string {
  const lines = text.split('\n');
  const keep = new Set<number>();
  let open = -1;
  for (const [i, line] of lines.entries()) {
    if (line.startsWith('<<<<<<<')) open = i;
    else if (line.startsWith('>>>>>>>') && open >= 0) {
      for (let j = Math.max(0, open - contextLines); j <= Math.min(lines.length - 1, i + contextLines); j++) keep.add(j);
      open = -1;
    }
  }
  const out: string[] = [];
  let last = -1;
  for (const i of [...keep].sort((a, b) => a - b)) {
    if (last >= 0 && i > last + 1) out.push('...');
    out.push(lines[i]!);
    last = i;
  }
  return out.join('\n');
}

function bounded(text: string): string {
  if (Buffer.byteLength(text) <= HUNK_LIMITS.bytesPerFile) return text;
  const cut = Buffer.from(text).subarray(0, HUNK_LIMITS.bytesPerFile).toString('utf8').replace(/\uFFFD$/, '');
  return `${cut}\n... (cut at ${HUNK_LIMITS.bytesPerFile} bytes)`;
}
