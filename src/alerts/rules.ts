import picomatch from 'picomatch';
import { DEFAULT_SEVERITY, type AlertKind, type AlertSeverity } from './alert-kinds.ts';
import { DEFAULT_DEDUPE_WINDOW_MS, type AlertRule, type AlertsConfig } from './alerts-config.ts';

/** What the configuration decides for one alert when it opens. */
export interface AlertDecision {
  severity: AlertSeverity;
  dedupeWindowMs: number;
  /** Configured route names (`dashboard` is implicit and never listed). */
  routes: string[];
  /** The matching rule's name, `#<index>` for an unnamed one; null when none matched. */
  rule: string | null;
}

/**
 * The first rule of `config.rules` that matches `kind` and `fields` decides; none → the kind's
 * default severity, the configured (or default) dedupe window, dashboard only. A rule's
 * `match.fields` maps a field name to a glob; an alert without that field does not match.
 * A `severity` the raiser asked for is used unless the rule sets one.
 */
export function decide(config: AlertsConfig, kind: AlertKind, fields: Record<string, string>, asked?: AlertSeverity): AlertDecision {
  const window = config.dedupe_window_ms ?? DEFAULT_DEDUPE_WINDOW_MS;
  const rules = config.rules ?? [];
  const index = rules.findIndex((r) => matches(r, kind, fields));
  if (index < 0) return { severity: asked ?? DEFAULT_SEVERITY[kind], dedupeWindowMs: window, routes: [], rule: null };
  const rule = rules[index]!;
  return {
    severity: rule.severity ?? asked ?? DEFAULT_SEVERITY[kind],
    dedupeWindowMs: rule.dedupe_window_ms ?? window,
    routes: rule.routes ?? [],
    rule: rule.name ?? `#${index}`,
  };
}

function matches(rule: AlertRule, kind: AlertKind, fields: Record<string, string>): boolean {
  const want = rule.match?.kind;
  if (want !== undefined && !(Array.isArray(want) ? want.includes(kind) : want === kind)) return false;
  for (const [name, glob] of Object.entries(rule.match?.fields ?? {})) {
    const value = fields[name];
    if (value === undefined || !picomatch.isMatch(value, glob, { dot: true })) return false;
  }
  return true;
}
