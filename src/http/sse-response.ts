import type { FastifyReply } from 'fastify';

/**
 * Takes the response over from fastify and opens it as a Server-Sent Events stream: the
 * headers every stream of the API sends (no caching or proxy buffering) and no Nagle delay, so
 * each event leaves as soon as it is written. Returns the raw response to write events to.
 */
export function openSseResponse(reply: FastifyReply) {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
    connection: 'keep-alive', 'x-accel-buffering': 'no',
  });
  res.socket?.setNoDelay(true);
  return res;
}
