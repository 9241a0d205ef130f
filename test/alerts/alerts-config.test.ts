// The `alerts:` section of the config file: a wrong kind or severity is named with what is allowed.
import t from 'tap';
import { ALERT_KINDS } from '../../src/alerts/alert-kinds.ts';
import { parseAlertsConfig } from '../../src/alerts/alerts-config.ts';

t.test('a rule matching an unknown kind is refused with the list of kinds', async (t) => {
  t.throws(() => parseAlertsConfig({ rules: [{ match: { kind: 'agent_dead' } }] }), {
    message: new RegExp(`alerts\\.rules\\.0\\.match\\.kind: "agent_dead" is not an alert kind; the kinds are ${ALERT_KINDS.join(', ')} \\[invalid_config\\]$`),
  });
  t.throws(() => parseAlertsConfig({ rules: [{ match: { kind: ['node_lost', 'nodes_lost'] } }] }), { message: /match\.kind.*"nodes_lost" is not an alert kind; the kinds are dead_letter, / }, 'in a list too');
});

t.test('an unknown severity names the severities; other errors keep their path', async (t) => {
  t.throws(() => parseAlertsConfig({ rules: [{ severity: 'page' }] }), { message: /alerts\.rules\.0\.severity: "page" is not a severity; use info, warning, critical/ });
  t.throws(() => parseAlertsConfig({ rules: [{ routes: ['nowhere'] }] }), { message: /alerts\.rules\.0\.routes: no route named "nowhere"/ });
  t.same(parseAlertsConfig({ rules: [{ match: { kind: ['node_lost'] }, severity: 'critical' }] }).rules?.[0]?.severity, 'critical', 'a valid section passes');
});
