/**
 * Turns a server's output chunks into whole lines: each line is forwarded to the caller's
 * log and the last few are kept, so that a start failure can quote what the server said.
 */
export class OutputLines {
  private partial = '';
  private readonly recent: string[] = [];

  constructor(
    private readonly log: (line: string) => void,
    private readonly keep = 40,
  ) {}

  /** Feeds a chunk of output (possibly several lines, possibly a partial line). */
  push(chunk: string | Buffer): string[] {
    const text = this.partial + chunk.toString();
    const lines = text.split(/\r?\n/);
    this.partial = lines.pop() ?? '';
    const complete = lines.filter((line) => line.trim() !== '');
    for (const line of complete) this.record(line);
    return complete;
  }

  /** Flushes a trailing partial line (when the stream ended). */
  flush(): void {
    if (this.partial.trim() !== '') this.record(this.partial);
    this.partial = '';
  }

  /** The last lines seen, oldest first, one per line. */
  tail(): string {
    return this.recent.join('\n');
  }

  private record(line: string): void {
    this.recent.push(line);
    if (this.recent.length > this.keep) this.recent.shift();
    try {
      this.log(line);
    } catch {
      // A failing log sink must not break server supervision.
    }
  }
}
