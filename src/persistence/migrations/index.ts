import { Migration20261122000000_initial } from './Migration20261122000000_initial.ts';
import { Migration20261122100000_join_sources } from './Migration20261122100000_join_sources.ts';
import { Migration20261201000000_explicit_flags } from './Migration20261201000000_explicit_flags.ts';
import { Migration20261201220000_join_blocked_by } from './Migration20261201220000_join_blocked_by.ts';
import { Migration20261202010000_lease_history } from './Migration20261202010000_lease_history.ts';
import { Migration20261202100000_principals_audit } from './Migration20261202100000_principals_audit.ts';
import { Migration20261202110000_agent_messages } from './Migration20261202110000_agent_messages.ts';
import { Migration20261202120000_ticket_network } from './Migration20261202120000_ticket_network.ts';
import { Migration20261202130000_alerts } from './Migration20261202130000_alerts.ts';
import { Migration20261202140000_alert_deliveries } from './Migration20261202140000_alert_deliveries.ts';
import { Migration20261202150000_budgets } from './Migration20261202150000_budgets.ts';
import { Migration20261202160000_stuck_work } from './Migration20261202160000_stuck_work.ts';
import { Migration20261202170000_retention_indexes } from './Migration20261202170000_retention_indexes.ts';
import { Migration20261202180000_alert_retention } from './Migration20261202180000_alert_retention.ts';
import { Migration20261203100000_operator_actions } from './Migration20261203100000_operator_actions.ts';
import { Migration20261203110000_dashboard_views } from './Migration20261203110000_dashboard_views.ts';
import { Migration20261203120000_merge_attempt_hunks } from './Migration20261203120000_merge_attempt_hunks.ts';
import { Migration20261203130000_auto_resolve_limit } from './Migration20261203130000_auto_resolve_limit.ts';
import { Migration20261203140000_webhooks } from './Migration20261203140000_webhooks.ts';
import { Migration20261204150000_specs } from './Migration20261204150000_specs.ts';

/** Every migration, in order. Add new ones at the end; never edit one that has shipped. */
export const MIGRATIONS = [
  { name: 'Migration20261122000000_initial', class: Migration20261122000000_initial },
  { name: 'Migration20261122100000_join_sources', class: Migration20261122100000_join_sources },
  { name: 'Migration20261201000000_explicit_flags', class: Migration20261201000000_explicit_flags },
  { name: 'Migration20261201220000_join_blocked_by', class: Migration20261201220000_join_blocked_by },
  { name: 'Migration20261202010000_lease_history', class: Migration20261202010000_lease_history },
  { name: 'Migration20261202100000_principals_audit', class: Migration20261202100000_principals_audit },
  { name: 'Migration20261202110000_agent_messages', class: Migration20261202110000_agent_messages },
  { name: 'Migration20261202120000_ticket_network', class: Migration20261202120000_ticket_network },
  { name: 'Migration20261202130000_alerts', class: Migration20261202130000_alerts },
  { name: 'Migration20261202140000_alert_deliveries', class: Migration20261202140000_alert_deliveries },
  { name: 'Migration20261202150000_budgets', class: Migration20261202150000_budgets },
  { name: 'Migration20261202160000_stuck_work', class: Migration20261202160000_stuck_work },
  { name: 'Migration20261202170000_retention_indexes', class: Migration20261202170000_retention_indexes },
  { name: 'Migration20261202180000_alert_retention', class: Migration20261202180000_alert_retention },
  { name: 'Migration20261203100000_operator_actions', class: Migration20261203100000_operator_actions },
  { name: 'Migration20261203110000_dashboard_views', class: Migration20261203110000_dashboard_views },
  { name: 'Migration20261203120000_merge_attempt_hunks', class: Migration20261203120000_merge_attempt_hunks },
  { name: 'Migration20261203130000_auto_resolve_limit', class: Migration20261203130000_auto_resolve_limit },
  { name: 'Migration20261203140000_webhooks', class: Migration20261203140000_webhooks },
  { name: 'Migration20261204150000_specs', class: Migration20261204150000_specs },
];
