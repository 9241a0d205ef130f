import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../config/index.ts';
import { buildHttpServer, type HttpDeps } from '../http/index.ts';
import { Metrics } from '../metrics.ts';

/** Where the generated document lives in the repository. */
export const OPENAPI_DOC_PATH = fileURLToPath(new URL('../../docs/openapi.json', import.meta.url));

/**
 * Renders `docs/openapi.json`: the OpenAPI document of the node's real HTTP server
 * (`buildHttpServer`), built without a node: nothing is listened on, and the dependencies a
 * request would use are absent (registering a route must not need them). Deterministic: the
 * document depends on the route schemas only, never on configuration.
 */
export async function generateOpenApiDocument(): Promise<string> {
  const app = await buildHttpServer(documentationDeps());
  try {
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

/** What building the server needs; anything a request would use throws, naming it. */
function documentationDeps(): HttpDeps {
  const given: Partial<HttpDeps> = {
    // Not a working token: the server is never listened on, and the document never shows it.
    config: loadConfig({}, { apiToken: 'documentation-only', nodeId: 'docs' }),
    log: pino({ level: 'silent' }),
    metrics: new Metrics(),
    principals: { ensureBootstrapAdmin: async () => {} } as unknown as HttpDeps['principals'],
    authFailureLimit: undefined,
  };
  return new Proxy(given as HttpDeps, {
    get(target, key) {
      if (key in target) return target[key as keyof HttpDeps];
      if (typeof key === 'symbol' || key === 'then') return undefined;
      return new Proxy({}, { get: () => { throw new Error(`generating the OpenAPI document: deps.${key} is not available (a route must not use it while registering)`); } });
    },
  });
}
