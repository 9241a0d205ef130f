import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../errors.ts';
import { ALERT_KINDS, ALERT_SEVERITIES } from './alert-kinds.ts';

const Name = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' });
const Url = Type.String({ pattern: '^https?://' });
/** A secret written in the file, or the name of the environment variable that holds it. */
const Secret = Type.Union([Type.String({ minLength: 1 }), Type.Object({ env: Type.String({ minLength: 1 }) }, { additionalProperties: false })]);

export const WebhookRoute = Type.Object({
  type: Type.Literal('webhook'),
  url: Url,
  /** HMAC-SHA256 key for the `Omoi-Signature` header (body signed as sent). */
  secret: Type.Optional(Secret),
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
}, { additionalProperties: false });

export const SlackRoute = Type.Object({
  type: Type.Literal('slack'),
  /** A Slack-compatible incoming-webhook URL. */
  url: Url,
}, { additionalProperties: false });

export const EmailRoute = Type.Object({
  type: Type.Literal('email'),
  to: Type.Array(Type.String({ minLength: 3 }), { minItems: 1 }),
  from: Type.Optional(Type.String({ minLength: 3 })),
  smtp: Type.Object({
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    secure: Type.Optional(Type.Boolean()),
    user: Type.Optional(Type.String()),
    password: Type.Optional(Secret),
  }, { additionalProperties: false }),
}, { additionalProperties: false });

export const AlertRoute = Type.Union([WebhookRoute, SlackRoute, EmailRoute]);
export type AlertRoute = Static<typeof AlertRoute>;

export const AlertRule = Type.Object({
  /** Shown in logs and on the alert (which rule routed it). */
  name: Type.Optional(Name),
  match: Type.Optional(Type.Object({
    kind: Type.Optional(Type.Union([Type.Union(ALERT_KINDS.map((k) => Type.Literal(k))), Type.Array(Type.Union(ALERT_KINDS.map((k) => Type.Literal(k))), { minItems: 1 })])),
    /** Field name → glob (picomatch) the alert's field must match. */
    fields: Type.Optional(Type.Record(Type.String(), Type.String())),
  }, { additionalProperties: false })),
  /** Overrides the kind's default severity. */
  severity: Type.Optional(Type.Union(ALERT_SEVERITIES.map((s) => Type.Literal(s)))),
  /** Repeats of an open alert within this window count and do not notify again (default `alerts.dedupe_window_ms`). */
  dedupe_window_ms: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Route names (keys of `alerts.routes`); `[]` = dashboard only. */
  routes: Type.Optional(Type.Array(Name)),
}, { additionalProperties: false });
export type AlertRule = Static<typeof AlertRule>;

export const AlertsConfig = Type.Object({
  routes: Type.Optional(Type.Record(Name, AlertRoute)),
  /** First matching rule wins; an alert no rule matches goes to the dashboard only. */
  rules: Type.Optional(Type.Array(AlertRule)),
  dedupe_window_ms: Type.Optional(Type.Integer({ minimum: 0 })),
}, { additionalProperties: false });
export type AlertsConfig = Static<typeof AlertsConfig>;

/** Default dedupe window: an hour. */
export const DEFAULT_DEDUPE_WINDOW_MS = 3_600_000;

/**
 * The `alerts:` section of the config file, checked whole: schema, and every rule's routes
 * naming a configured route. Throws `ConfigError` with the path of the first problem.
 */
export function parseAlertsConfig(raw: unknown): AlertsConfig {
  if (raw === undefined || raw === null) return {};
  if (!Value.Check(AlertsConfig, raw)) {
    const first = [...Value.Errors(AlertsConfig, raw)][0]!;
    const where = `alerts${first.path.replaceAll('/', '.')}`;
    // A union of literals reports only "expected union value": name what is allowed instead.
    if (/\/match\/kind(\/\d+)?$/.test(first.path)) {
      const wrong = Array.isArray(first.value) ? first.value.find((k) => !(ALERT_KINDS as readonly unknown[]).includes(k)) ?? first.value : first.value;
      throw new ConfigError('OMOI_CONFIG', `${where}: ${JSON.stringify(wrong)} is not an alert kind; the kinds are ${ALERT_KINDS.join(', ')}`);
    }
    if (/\/severity$/.test(first.path)) {
      throw new ConfigError('OMOI_CONFIG', `${where}: ${JSON.stringify(first.value)} is not a severity; use ${ALERT_SEVERITIES.join(', ')}`);
    }
    if (/^\/routes\/[^/]+$/.test(first.path)) {
      throw new ConfigError('OMOI_CONFIG', `${where}: must be a webhook {type, url, secret?, headers?}, slack {type, url} or email {type, to, from?, smtp} route`);
    }
    throw new ConfigError('OMOI_CONFIG', `${where}: ${first.message}`);
  }
  const routes = raw.routes ?? {};
  (raw.rules ?? []).forEach((rule, i) => {
    for (const name of rule.routes ?? []) {
      if (!(name in routes)) throw new ConfigError('OMOI_CONFIG', `alerts.rules.${i}.routes: no route named ${JSON.stringify(name)} in alerts.routes`);
    }
  });
  return raw;
}
