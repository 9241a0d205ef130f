import { Type } from '@sinclair/typebox';
import { ALERT_KINDS, ALERT_SEVERITIES } from '../../alerts/alert-kinds.ts';
import { BREAKER_NAMES } from '../../breakers/breakers.ts';
import { ActorType, OBSERVERS, command, event } from '../define.ts';

const Kind = Type.Union(ALERT_KINDS.map((k) => Type.Literal(k)));
const Severity = Type.Union(ALERT_SEVERITIES.map((s) => Type.Literal(s)));
/**
 * An alert's identity while it is open: repeats with the same fingerprint count on one alert.
 * Built by src/alerts/triggers.ts as `<kind>:<what>` (e.g. `agent_failed:agent-7`); any
 * printable text, it is the AlertActor's entity id (hashed to its partition, never a subject).
 */
const Fingerprint = Type.String({ minLength: 1, maxLength: 300, pattern: '^[^\\u0000-\\u001f]+$' });
/** An alert's id (`al-<hex>`), as the API, the CLI and the dashboard show it. */
const AlertId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
const Fields = Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 2000 }));
const Comment = Type.String({ maxLength: 2000 });
/** Who acted: a principal's name (set by HTTP from the caller's token), or the sender. */
const By = Type.String({ minLength: 1, maxLength: 200 });
const route = (p: { fingerprint: string }) => ({ entity: 'alert' as const, id: p.fingerprint });
/** What a person sends to acknowledge or resolve an alert. */
const PersonOnAlert = Type.Object({ alert_id: AlertId, fingerprint: Fingerprint, by: Type.Optional(By), comment: Type.Optional(Comment) }, { additionalProperties: false });

export const AlertRaise = command({
  type: 'alert.raise',
  description: 'Internal (the alert trigger consumer, src/alerts/trigger-consumer.ts): a condition worth an alert happened. The AlertActor of the fingerprint opens an alert (the first matching rule of `alerts.rules` decides severity, dedupe window and routes) and publishes `alert.raised`; while it is open a repeat only counts, and notifies again (`alert.raised`, `notification` + 1) only once its dedupe window passed while still `raised`. After it was resolved a raise opens a new alert.',
  handledBy: ActorType.AlertActor,
  ingress: false,
  route,
  payload: Type.Object({ kind: Kind, fingerprint: Fingerprint, title: Type.String({ maxLength: 500 }), fields: Fields, severity: Type.Optional(Severity) }, { additionalProperties: false }),
  example: { kind: 'agent_failed', fingerprint: 'agent_failed:agent-7', title: 'agent agent-7 failed: no heartbeat for 91000 ms', fields: { agent_id: 'agent-7' } },
});

export const AlertClear = command({
  type: 'alert.clear',
  description: 'Internal (the alert trigger consumer): the condition of a fingerprint cleared (an agent healthy again, a breaker closed, a merge resolved). Its open alert, if any, is resolved by `auto` (`alert.resolved`); nothing open → nothing happens.',
  handledBy: ActorType.AlertActor,
  ingress: false,
  route,
  payload: Type.Object({ fingerprint: Fingerprint, reason: Type.String({ maxLength: 2000 }) }, { additionalProperties: false }),
  example: { fingerprint: 'agent_failed:agent-7', reason: 'agent agent-7 is healthy again' },
});

export const AlertAcknowledge = command({
  type: 'alert.acknowledge',
  description: 'A person acknowledges an open alert (`POST /api/alerts/<id>/acknowledge`, `omoi alerts ack`): it stays open, repeats still count, and no more notifications go out for it. `fingerprint` routes the command (the API fills it from the alert). Refused: an unknown alert (`not_found`), one already acknowledged (`alert_acknowledged`) or resolved (`alert_resolved`).',
  handledBy: ActorType.AlertActor,
  ingress: true,
  route,
  payload: PersonOnAlert,
  example: { alert_id: 'al-3f9a1c2b7d004e11', fingerprint: 'agent_failed:agent-7', by: 'alice', comment: 'looking at it' },
});

export const AlertResolve = command({
  type: 'alert.resolve',
  description: 'A person resolves an open alert (`POST /api/alerts/<id>/resolve`, `omoi alerts resolve`); the next raise of its fingerprint opens a new alert. Refused: an unknown alert (`not_found`), one already resolved (`alert_resolved`).',
  handledBy: ActorType.AlertActor,
  ingress: true,
  route,
  payload: PersonOnAlert,
  example: { alert_id: 'al-3f9a1c2b7d004e11', fingerprint: 'agent_failed:agent-7', by: 'alice', comment: 'agent host replaced' },
});

export const AlertAcknowledged = event({
  type: 'alert.acknowledged',
  description: 'A person acknowledged an alert: no more notifications for it; it stays open until resolved.',
  consumers: OBSERVERS,
  payload: Type.Object({ alert_id: Type.String(), fingerprint: Type.String(), kind: Kind, by: Type.String(), comment: Type.Optional(Type.String()) }),
  example: { alert_id: 'al-3f9a1c2b7d004e11', fingerprint: 'agent_failed:agent-7', kind: 'agent_failed', by: 'alice', comment: 'looking at it' },
});

export const AlertResolved = event({
  type: 'alert.resolved',
  description: 'An alert was resolved: by a person (`by` is their name, `reason` their comment), or `auto` when its condition cleared (`reason` says how).',
  consumers: OBSERVERS,
  payload: Type.Object({ alert_id: Type.String(), fingerprint: Type.String(), kind: Kind, by: Type.String(), reason: Type.Optional(Type.String()), count: Type.Integer({ minimum: 1 }) }),
  example: { alert_id: 'al-3f9a1c2b7d004e11', fingerprint: 'agent_failed:agent-7', kind: 'agent_failed', by: 'auto', reason: 'agent agent-7 is healthy again', count: 3 },
});

export const AlertRaised = event({
  type: 'alert.raised',
  description: 'A notification of an alert: the first time its condition was raised, or again after its dedupe window passed while it kept being raised. Routes (webhook, Slack, e-mail) deliver it; the dashboard shows it.',
  consumers: [...OBSERVERS, 'alert delivery (src/alerts): the routes named in `routes`'],
  payload: Type.Object({
    alert_id: Type.String({ minLength: 1 }),
    kind: Kind,
    severity: Severity,
    fingerprint: Type.String({ minLength: 1 }),
    title: Type.String(),
    fields: Type.Record(Type.String(), Type.String()),
    count: Type.Integer({ minimum: 1 }),
    first_raised_at: Type.String({ format: 'date-time' }),
    last_raised_at: Type.String({ format: 'date-time' }),
    routes: Type.Array(Type.String()),
    notification: Type.Integer({ minimum: 1 }),
  }),
  example: {
    alert_id: '01JF3Q8ZK2', kind: 'merge_unresolved', severity: 'critical', fingerprint: 'merge_unresolved:T1/join-D',
    title: 'T1: merge of join-D left 2 conflicted files unresolved', fields: { ticket_id: 'T1', join_id: 'join-D' },
    count: 1, first_raised_at: '2026-12-02T12:00:00.000Z', last_raised_at: '2026-12-02T12:00:00.000Z', routes: ['ops-webhook'], notification: 1,
  },
});

export const BreakerStateChanged = event({
  type: 'breaker.state',
  description: 'A circuit breaker around something Omoi calls outside itself (a git remote, a webhook or SMTP route, a resolver or agent command) opened, half-opened for a trial call, or closed again. While open, work that needs it fails with the retryable code `circuit_open`.',
  consumers: [...OBSERVERS, 'alerts (`circuit_open`, resolved when it closes)'],
  payload: Type.Object({
    node_id: Type.String(),
    breaker: Type.Union(BREAKER_NAMES.map((b) => Type.Literal(b))),
    key: Type.String(),
    state: Type.Union([Type.Literal('open'), Type.Literal('half_open'), Type.Literal('closed')]),
    reason: Type.Optional(Type.String()),
  }),
  example: { node_id: 'host-7070', breaker: 'git_remote', key: 'https://git.example.com/app.git', state: 'open', reason: 'fetch failed: connection refused' },
});
