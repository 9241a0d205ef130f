import { loadConfig } from '../config/index.ts';
import { errorMessage } from '../errors.ts';
import { CliError } from './cli-error.ts';
import { DEFAULT_NODE_URL } from './defaults.ts';
import { NodeFiles, readNodeFile } from './node-files.ts';

/** How long a CLI request to the node may take. */
const REQUEST_TIMEOUT_MS = 10_000;

/** A running node's HTTP API, as the CLI calls it. */
export interface NodeApi {
  base: string;
  /** Sends one request with the API token; resolves with the JSON answer, throws `CliError` naming the problem. */
  call<T>(method: string, path: string, body?: unknown): Promise<T>;
}

/**
 * The API token the CLI sends: `OMOI_API_TOKEN`, else the node's `<data dir>/api-token` (the
 * bootstrap admin's). Throws `CliError` saying where it looked.
 */
export function cliApiToken(): string {
  const config = loadConfig(process.env);
  const file = NodeFiles.apiToken(config.dataDir);
  const token = config.apiToken ?? readNodeFile(file);
  if (!token) throw new CliError(`no API token: set OMOI_API_TOKEN, or run where OMOI_DATA_DIR points at the node's data directory (${file} does not exist)`);
  return token;
}

/** The node at `url` (default http://127.0.0.1:7070), called with `cliApiToken()`. */
export function nodeApi(url: string | undefined): NodeApi {
  const base = (url || DEFAULT_NODE_URL).replace(/\/+$/, '');
  if (!URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) throw new CliError(`--url ${JSON.stringify(base)} is not an http(s) URL`);
  const token = cliApiToken();
  return {
    base,
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(base + path, {
          method,
          headers: { accept: 'application/json', authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? errorMessage(err);
        throw new CliError(`no node answering at ${base}: is \`omoi start\` running? (${cause})`);
      }
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new CliError(`${method} ${base}${path} answered ${res.status} without JSON: is ${base} an Omoi node?`);
      }
      if (res.status === 401) throw new CliError(`the node at ${base} refused the API token: set OMOI_API_TOKEN to a valid token`);
      if (!res.ok) {
        const error = (json as { error?: { code?: string; message?: string } }).error;
        throw new CliError(`${error?.message ?? `${method} ${path} answered ${res.status}`} [${error?.code ?? res.status}]`);
      }
      return json as T;
    },
  };
}
