#!/usr/bin/env node
// The demo ticket's resolver command. Omoi runs it in the merge sandbox when a merge conflict
// is left after the built-in rules, with OMOI_CONFLICTED_FILES (newline-separated paths) and
// each conflicted file written with <<<<<<< / ======= / >>>>>>> markers.
//
// Policy (deterministic): a conflict hunk whose two sides assign a list to the same name on one
// line, e.g. `ENABLED_FEATURES = ["core", "export"]` vs `ENABLED_FEATURES = ["core", "search"]`,
// is resolved to the union of both lists in order (ours first): both features stay switched on.
// Any other hunk is left alone and the script exits 1, so Omoi reports the merge as blocked
// rather than guessing. Plain Node, no dependencies: it runs without Omoi's loader.
import { readFileSync, writeFileSync } from 'node:fs';

const files = (process.env.OMOI_CONFLICTED_FILES ?? '').split('\n').filter(Boolean);
const source = process.env.OMOI_MERGE_SOURCE ?? '?';
let unresolved = 0;

for (const file of files) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('<<<<<<<')) {
      out.push(lines[i]);
      continue;
    }
    const mid = lines.indexOf('=======', i + 1);
    const end = lines.findIndex((l, j) => j > mid && l.startsWith('>>>>>>>'));
    if (mid < 0 || end < 0) {
      console.log(`resolve-features: ${file}: unterminated conflict at line ${i + 1}`);
      unresolved++;
      out.push(...lines.slice(i));
      break;
    }
    const ours = lines.slice(i + 1, mid);
    const theirs = lines.slice(mid + 1, end);
    const merged = unionOfLists(ours, theirs);
    if (merged) {
      console.log(`resolve-features: ${file}:${out.length + 1}: kept both sides (merging ${source})`);
      console.log(`  ours:   ${ours[0]}`);
      console.log(`  theirs: ${theirs[0]}`);
      console.log(`  result: ${merged}`);
      out.push(merged);
    } else {
      console.log(`resolve-features: ${file}:${out.length + 1}: not a one-line list assignment on both sides; left for a person`);
      unresolved++;
      out.push(...lines.slice(i, end + 1));
    }
    i = end;
  }
  writeFileSync(file, out.join('\n'));
}
process.exit(unresolved ? 1 : 0);

/** `NAME = [a, b]` on both sides with the same NAME → `NAME = [union]`; else undefined. */
function unionOfLists(ours, theirs) {
  if (ours.length !== 1 || theirs.length !== 1) return undefined;
  const pattern = /^(\s*[A-Za-z_][A-Za-z0-9_]*)\s*=\s*\[(.*)\]\s*$/;
  const a = pattern.exec(ours[0]);
  const b = pattern.exec(theirs[0]);
  if (!a || !b || a[1] !== b[1]) return undefined;
  const items = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);
  const union = [...new Set([...items(a[2]), ...items(b[2])])];
  return `${a[1]} = [${union.join(', ')}]`;
}
