import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import { RetryableError, TerminalError } from '../../errors.ts';
import { lookup } from '../../protocol/index.ts';
import { Id } from '../../protocol/index.ts';
import { errorAnswer } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { openSseResponse } from '../sse-response.ts';
import { badRequest } from '../error-reply.ts';
import { ResumeGone } from '../live-events/event-feed.ts';
import { StreamClient, type StreamFilter } from '../live-events/stream-client.ts';
import { queryId, queryString } from '../request-input.ts';

/**
 * `GET /api/events/stream?ticket_id=&types=a,b`: the cluster's domain events as they happen,
 * as Server-Sent Events (`id:` the event's position in the events stream, `event:` its type,
 * `data:` its envelope). `Last-Event-ID` (header, or the `last_event_id` query parameter)
 * resumes after that position, read back from the stream; a position no longer stored (or
 * too far back) gets one `reset` event and the end: reload, then stream without one.
 * A comment every 15 s keeps proxies from closing an idle stream. See EventFeed and
 * StreamClient for the fan-out and the back-pressure; `sseMaxClients` open streams per node,
 * one more is answered 503 `too_many_streams`.
 */
export async function eventStreamRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const clients = new Set<StreamClient>();
  const metrics = streamMetrics(deps.metrics.registry);
  // Open streams would hold the server's close forever: they end first.
  app.addHook('preClose', async () => {
    for (const c of [...clients]) c.close('ended');
  });

  app.get('/events/stream', {
    config: { role: 'viewer' },
    schema: {
      summary: 'The domain events as they happen (Server-Sent Events)', tags: ['events'],
      description: 'Each event: `id:` its position in the events stream, `event:` its type, `data:` its envelope (docs/protocol.md). Resume after a position with `Last-Event-ID`; a position no longer stored gets one `reset` event and the end.',
      querystring: Type.Object({
        ticket_id: Type.Optional(Id),
        types: Type.Optional(Type.String({ maxLength: 2000, description: 'comma-separated event types (`task.status,ticket.completed`)' })),
        last_event_id: Type.Optional(Type.String({ pattern: '^\\d{1,15}$', description: 'as the `Last-Event-ID` header, for clients that cannot send one' })),
      }),
      headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^\\d{1,15}$', description: 'resume after this position' })) }),
      response: {
        200: { description: 'The stream, until the client leaves (or falls too far behind)', content: { 'text/event-stream': { schema: Type.String() } } },
        503: errorAnswer('`too_many_streams` (retry after `Retry-After`), or `events_unavailable`'),
      },
    },
  }, async (req, reply) => {
    const feed = deps.events;
    if (!feed) throw new RetryableError('events_unavailable', 'this node has no live event feed; poll GET /api/events');
    const filter = streamFilter(req);
    const after = lastEventId(req);
    if (clients.size >= deps.config.sseMaxClients) {
      reply.header('retry-after', '5');
      throw new TerminalError('too_many_streams', `this node serves ${deps.config.sseMaxClients} event streams already (OMOI_SSE_MAX_CLIENTS); retry later or poll GET /api/events`, {}, 503);
    }

    const res = openSseResponse(reply);
    const client = new StreamClient(res, {
      filter, bufferBytes: deps.config.sseClientBufferBytes, after: after ?? feed.position,
      onClose: (why) => {
        clients.delete(client);
        feed.remove(client);
        metrics.open.set(clients.size);
        if (why !== 'ended') metrics.closed.inc({ reason: why });
      },
    });
    clients.add(client);
    metrics.open.set(clients.size);
    // Attached before the read-back starts: what comes live meanwhile is held, not lost.
    const upTo = feed.position;
    feed.add(client);
    res.write(': connected\n\n');
    if (after === undefined) {
      client.live();
      return;
    }
    try {
      await feed.replay(after, upTo, (e) => client.replayed(e), () => client.open);
      client.live();
    } catch (err) {
      if (err instanceof ResumeGone) {
        client.reset(err.message);
        return;
      }
      // NATS unreachable, say: the position is still good, the client retries with it.
      req.log.warn({ err: (err as Error).message, after }, 'could not read events back for a resumed stream');
      client.close('ended');
    }
  });
}

function streamFilter(req: FastifyRequest): StreamFilter {
  const ticketId = queryId(req.query, 'ticket_id');
  const typesText = queryString(req.query, 'types', 2000);
  let types: Set<string> | undefined;
  if (typesText !== undefined) {
    types = new Set(typesText.split(',').map((s) => s.trim()).filter(Boolean));
    for (const type of types) {
      if (lookup(type)?.kind !== 'event') throw badRequest('unknown_event_type', `${JSON.stringify(type)} is not an event type of the protocol`, 'query.types');
    }
  }
  return { ...(ticketId ? { ticketId } : {}), ...(types ? { types } : {}) };
}

/** The position to resume after: the `Last-Event-ID` header, else the `last_event_id` query parameter. */
function lastEventId(req: FastifyRequest): number | undefined {
  const header = req.headers['last-event-id'];
  const fromQuery = (req.query as Record<string, unknown> | undefined)?.last_event_id;
  const [value, field] = header !== undefined ? [header, 'headers.last-event-id'] : [fromQuery, 'query.last_event_id'];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) {
    throw badRequest('invalid_last_event_id', 'Last-Event-ID must be the id of an event this stream sent (a non-negative integer)', field);
  }
  return Number(value);
}

/** Open streams, and streams the node ended, by why (fixed labels: slow, gone). */
function streamMetrics(registry: Registry): { open: Gauge; closed: Counter<'reason'> } {
  const open = (registry.getSingleMetric('omoi_sse_clients') as Gauge | undefined)
    ?? new Gauge({ name: 'omoi_sse_clients', help: 'Open /api/events/stream clients on this node', registers: [registry] });
  const closed = (registry.getSingleMetric('omoi_sse_disconnects_total') as Counter<'reason'> | undefined)
    ?? new Counter({ name: 'omoi_sse_disconnects_total', help: 'Event streams that ended: slow (disconnected, too far behind) or gone (the client left)', labelNames: ['reason'], registers: [registry] });
  return { open, closed };
}
