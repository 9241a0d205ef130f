import fs from 'node:fs';
import path from 'node:path';
import { CliError } from '../cli-error.ts';
import { generateProtocolDoc, PROTOCOL_DOC_PATH } from '../protocol-doc.ts';

export interface DocsOptions {
  /** Where to write (default `docs/protocol.md` of this checkout). */
  out?: string;
  /** Write nothing; fail if the file differs from a fresh generation. */
  check?: boolean;
}

/**
 * `omoi docs`: regenerates the protocol reference from the registry. With `check`, throws
 * `CliError` when the file is missing or stale instead of writing it. Returns the line to print.
 */
export function runDocs(opts: DocsOptions = {}): string {
  const file = path.resolve(opts.out ?? PROTOCOL_DOC_PATH);
  const fresh = generateProtocolDoc();
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  if (opts.check) {
    if (current !== fresh) throw new CliError(`${file} is ${current === undefined ? 'missing' : 'out of date'}: run \`omoi docs\` and commit it`);
    return `${file} is up to date`;
  }
  if (current === fresh) return `${file} is up to date`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, fresh);
  return `wrote ${file}`;
}
