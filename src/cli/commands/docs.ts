import fs from 'node:fs';
import path from 'node:path';
import { CliError } from '../cli-error.ts';
import { generateOpenApiDocument, OPENAPI_DOC_PATH } from '../openapi-doc.ts';
import { generateProtocolDoc, PROTOCOL_DOC_PATH } from '../protocol-doc.ts';

export interface DocsOptions {
  /** Where to write the protocol reference (default `docs/protocol.md` of this checkout). */
  out?: string;
  /** Where to write the OpenAPI document (default `docs/openapi.json` of this checkout). */
  openapiOut?: string;
  /** Write nothing; fail if a file differs from a fresh generation. */
  check?: boolean;
}

/**
 * `omoi docs`: regenerates the protocol reference from the registry and the OpenAPI document
 * from the HTTP server's route schemas. With `check`, throws `CliError` naming every file that
 * is missing or stale instead of writing. Returns the lines to print.
 */
export async function runDocs(opts: DocsOptions = {}): Promise<string> {
  const files: [file: string, fresh: string][] = [
    [path.resolve(opts.out ?? PROTOCOL_DOC_PATH), generateProtocolDoc()],
    [path.resolve(opts.openapiOut ?? OPENAPI_DOC_PATH), await generateOpenApiDocument()],
  ];
  const stale = files.filter(([file, fresh]) => read(file) !== fresh);
  if (opts.check) {
    if (stale.length) {
      throw new CliError(stale.map(([file]) => `${file} is ${read(file) === undefined ? 'missing' : 'out of date'}`).join('; ') + ': run `omoi docs` and commit it');
    }
    return files.map(([file]) => `${file} is up to date`).join('\n');
  }
  return files.map(([file, fresh]) => {
    if (!stale.some(([f]) => f === file)) return `${file} is up to date`;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, fresh);
    return `wrote ${file}`;
  }).join('\n');
}

function read(file: string): string | undefined {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
}
