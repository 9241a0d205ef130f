import { open, stat } from 'node:fs/promises';

/** Bounds of what is read of a growing output file per look (the rest is skipped and said so). */
export const FOLLOW_LIMITS = { bytesPerLook: 64 * 1024 } as const;

/** New output since the last look: `offset` is where `text` starts in the file. */
export interface OutputChunk { offset: number; text: string; skipped?: number }

/**
 * Looks at `file` every `everyMs` and hands `onChunk` what was appended since the last look,
 * up to the last complete line (a partial line waits for its end, or for `stop()`), so a chunk
 * never splits a line — nor a secret on it, which the receiver masks. More than
 * `bytesPerLook` new bytes at one look: the older part is skipped, up to a line's start
 * (`skipped` says how many bytes).
 * `stop()` makes one last look (everything, partial line included) and resolves after it.
 * A missing file is no output yet; other read errors end nothing, the next look tries again.
 */
export function followOutput(file: string, everyMs: number, onChunk: (chunk: OutputChunk) => void): { stop(): Promise<void> } {
  let offset = 0;
  let looking: Promise<void> = Promise.resolve();
  const look = (final: boolean) => (looking = looking.then(async () => {
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch {
      return;
    }
    if (size <= offset) return;
    let skipped = 0;
    if (size - offset > FOLLOW_LIMITS.bytesPerLook) {
      skipped = size - FOLLOW_LIMITS.bytesPerLook - offset;
      offset = size - FOLLOW_LIMITS.bytesPerLook;
    }
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      // After a skip, the chunk starts at a line's start: the cut line counts as skipped.
      const start = skipped ? buf.subarray(0, bytesRead).indexOf(0x0a) + 1 : 0;
      skipped += start;
      let end = bytesRead;
      if (!final) end = buf.lastIndexOf(0x0a, bytesRead - 1) + 1; // up to the last newline
      if (end <= start && !skipped) return;
      end = Math.max(start, end);
      onChunk({ offset: offset + start, text: buf.subarray(start, end).toString('utf8'), ...(skipped ? { skipped } : {}) });
      offset += end;
    } finally {
      await fh.close();
    }
  }).catch(() => undefined));
  const timer = setInterval(() => void look(false), everyMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await look(true);
    },
  };
}
