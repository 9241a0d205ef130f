import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { TerminalError } from '../../errors.ts';
import { GithubHooks } from '../../webhooks/github/github-hooks.ts';
import { errorAnswer } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';

/**
 * `POST /api/hooks/github`: the GitHub-compatible incoming webhook (src/webhooks/github). No
 * bearer token: the caller is authenticated by `X-Hub-Signature-256` over the raw body, so this
 * plugin keeps the body as bytes (JSON or GitHub's form encoding) instead of parsing it. A bad
 * signature is a 401 `bad_signature` counted with the API's other authentication failures (the
 * same per-address limit then refuses the address with 429).
 */
export async function githubHookRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const hooks = new GithubHooks({
    db: deps.db, log: deps.log.child({ component: 'github-hook' }), audit: deps.audit,
    config: () => deps.config.webhooks?.github,
    submit: (type, payload, opts) => deps.submit(type, payload, opts),
  });
  app.removeAllContentTypeParsers();
  for (const type of ['application/json', 'application/x-www-form-urlencoded']) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  }

  app.post('/hooks/github', {
    config: { role: 'operator', selfAuthenticated: true },
    schema: {
      summary: 'GitHub-compatible incoming webhook: signed by `X-Hub-Signature-256`, no token; configured events become tickets or commands', tags: ['webhooks'],
      headers: Type.Object({
        'x-hub-signature-256': Type.String({ description: '`sha256=<hex HMAC of the raw body>` with the configured secret' }),
        'x-github-event': Type.String({ description: 'the event, e.g. `issues`, `issue_comment`' }),
        'x-github-delivery': Type.String({ description: 'the delivery id: a repeated one is answered `duplicate` and does nothing' }),
      }),
      body: Type.Object({}, { additionalProperties: true, description: 'GitHub\'s event payload (JSON, or form-encoded `payload=`)' }),
      response: {
        200: Type.Object({}, { additionalProperties: true, description: '`duplicate` (a delivery id seen before: nothing done), or `pong`' }),
        202: Type.Object({}, { additionalProperties: true, description: '`applied` (the command it became, with its message id) or `ignored` (no rule matched, and why)' }),
        401: errorAnswer('`bad_signature`: the signature does not match the configured secret'),
      },
    },
  }, async (req, reply) => {
    try {
      const answer = await hooks.receive({
        event: req.headers['x-github-event'], deliveryId: req.headers['x-github-delivery'], signature: req.headers['x-hub-signature-256'],
        contentType: req.headers['content-type'], raw: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      });
      deps.metrics.githubHooks.inc({ outcome: answer.outcome });
      return reply.code(answer.status).send(answer.body);
    } catch (err) {
      if (err instanceof TerminalError && err.status === 401) app.authFailures.failed(req.ip);
      if (err instanceof TerminalError) deps.metrics.githubHooks.inc({ outcome: 'refused' });
      throw err;
    }
  });
}
