import { readFile } from 'node:fs/promises';

// An opening or closing conflict marker at the start of a line. A lone `=======` line is not
// counted: it is also ordinary text (reStructuredText headings, banners), and a file that
// still has a real conflict still has its `<<<<<<<`/`>>>>>>>` lines.
const MARKER = /^(<{7}|>{7})(?: |$)/m;

/** True if `text` still contains a conflict marker line. */
export function hasConflictMarkers(text: string): boolean {
  return MARKER.test(text);
}

/** True if the file at `file` exists and still contains a conflict marker line. */
export async function fileHasConflictMarkers(file: string): Promise<boolean> {
  try {
    return hasConflictMarkers(await readFile(file, 'latin1')); // byte-preserving: works for any encoding
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // deleted: a valid resolution
    throw err;
  }
}
