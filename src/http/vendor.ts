import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';

const require = createRequire(import.meta.url);

/**
 * Third-party browser code the dashboard loads, served from node_modules as installed (no copy
 * in the repository, no build step): the path the page asks for → the package file.
 * elkjs' bundle is a UMD script that defines `ELK` (views/ticket-graph.js loads it lazily); its
 * worker script runs the layouts off the page's thread.
 */
const VENDOR_FILES: Readonly<Record<string, string>> = {
  'elk.bundled.js': 'elkjs/lib/elk.bundled.js',
  'elk-worker.min.js': 'elkjs/lib/elk-worker.min.js',
};

/**
 * `GET /vendor/<file>`: like the dashboard's own static files, without a token (it is public
 * code) and under the same content security policy. Each file is read once, on its first request.
 */
export async function vendorRoutes(app: FastifyInstance): Promise<void> {
  for (const [name, module] of Object.entries(VENDOR_FILES)) {
    const file = require.resolve(module);
    let body: Promise<Buffer> | undefined;
    // Not part of the API: left out of its OpenAPI document, like the dashboard's own files.
    app.get(`/vendor/${name}`, { schema: { hide: true } }, async (_req, reply) => {
      body ??= readFile(file);
      // A failed read is not kept: the next request tries again.
      const bytes = await body.catch((err: unknown) => {
        body = undefined;
        throw err;
      });
      return reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(bytes);
    });
  }
}
