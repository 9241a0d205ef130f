import { Type } from '@sinclair/typebox';
import { ALERT_KINDS, ALERT_SEVERITIES } from '../../alerts/alert-kinds.ts';
import { BREAKER_NAMES } from '../../breakers/breakers.ts';
import { OBSERVERS, event } from '../define.ts';

const Kind = Type.Union(ALERT_KINDS.map((k) => Type.Literal(k)));
const Severity = Type.Union(ALERT_SEVERITIES.map((s) => Type.Literal(s)));

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
