import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { parseCompatibilityConfig } from '../agents/compatibility.ts';
import { parseAlertsConfig } from '../alerts/alerts-config.ts';
import { ConfigError } from '../errors.ts';
import { parseWebhooksConfig } from '../webhooks/github/github-config.ts';
import { DUPLICATE_WINDOW_MS } from '../messaging/duplicate-window.ts';
import { DEFAULTS, defaultNodeId, type OmoiConfig } from './options.ts';
import { SETTINGS } from './settings.ts';

/**
 * Resolves the node's configuration once: environment variables override the config file
 * (`OMOI_CONFIG`, YAML or JSON, keys as in `OmoiConfig`), which overrides defaults.
 * Throws `ConfigError` naming the first invalid setting.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<OmoiConfig> = {}): OmoiConfig {
  const fromFile = env.OMOI_CONFIG ? readConfigFile(env.OMOI_CONFIG) : {};
  const resolved: Record<string, unknown> = { ...DEFAULTS };
  for (const setting of SETTINGS) {
    const fileValue = fromFile[setting.key];
    if (fileValue !== undefined && fileValue !== null) {
      resolved[setting.key] = setting.parse(String(fileValue));
    }
    const envValue = env[setting.env];
    if (envValue !== undefined && envValue !== '') {
      resolved[setting.key] = setting.parse(envValue);
    }
  }
  // The structured sections: alert rules and routes, the incoming webhooks' rules; each checked whole (not environment variables).
  resolved.alerts = parseAlertsConfig(fromFile.alerts);
  resolved.agentCompatibility = parseCompatibilityConfig(fromFile.agent_compatibility);
  resolved.webhooks = parseWebhooksConfig(fromFile.webhooks);
  Object.assign(resolved, overrides);
  const config = resolved as unknown as OmoiConfig;
  config.dataDir = path.resolve(config.dataDir);
  if (config.postgresDir) config.postgresDir = path.resolve(config.postgresDir);
  if (config.postgresBinaryCache) config.postgresBinaryCache = path.resolve(config.postgresBinaryCache);
  config.nodeId ??= defaultNodeId(config.httpPort);
  if (config.agentFailedAfterMs < config.agentDegradedAfterMs) {
    throw new ConfigError('OMOI_AGENT_FAILED_AFTER_MS', 'must be at least OMOI_AGENT_DEGRADED_AFTER_MS');
  }
  if (config.restartBackoffMaxMs < config.restartBackoffMs) {
    throw new ConfigError('OMOI_RESTART_BACKOFF_MAX_MS', 'must be at least OMOI_RESTART_BACKOFF_MS');
  }
  if (config.retentionProcessedMs < DUPLICATE_WINDOW_MS) {
    // Younger ids are what makes a copy JetStream no longer drops (published again after its window) harmless.
    throw new ConfigError('OMOI_RETENTION_PROCESSED_MS', `must be at least the streams' duplicate window, ${DUPLICATE_WINDOW_MS} ms (10 minutes), got ${config.retentionProcessedMs}`);
  }
  if (config.retentionProcessedMs < config.ackWaitMs) {
    // A message whose ack was lost comes back up to OMOI_ACK_WAIT_MS after it was handled.
    throw new ConfigError('OMOI_RETENTION_PROCESSED_MS', `must be at least OMOI_ACK_WAIT_MS (${config.ackWaitMs} ms): a message whose ack was lost is redelivered that long after it was handled`);
  }
  checkNatsCredentials(config);
  return config;
}

/** Credentials come whole and one kind at a time; half a pair would fail only at connect. */
function checkNatsCredentials(c: OmoiConfig): void {
  if (c.natsUser && !c.natsPassword) throw new ConfigError('NATS_PASSWORD', 'must be set with NATS_USER');
  if (c.natsPassword && !c.natsUser) throw new ConfigError('NATS_USER', 'must be set with NATS_PASSWORD');
  if (c.natsCert && !c.natsKey) throw new ConfigError('NATS_KEY', 'must be set with NATS_CERT');
  if (c.natsKey && !c.natsCert) throw new ConfigError('NATS_CERT', 'must be set with NATS_KEY');
  const kinds = [['NATS_USER', c.natsUser], ['NATS_TOKEN', c.natsToken], ['NATS_NKEY', c.natsNkey], ['NATS_CREDS', c.natsCreds]].filter(([, v]) => v);
  if (kinds.length > 1) throw new ConfigError(kinds[1]![0]!, `set only one of NATS_USER, NATS_TOKEN, NATS_NKEY, NATS_CREDS (also set: ${kinds[0]![0]})`);
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('OMOI_CONFIG', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (err) {
    throw new ConfigError('OMOI_CONFIG', `${file} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('OMOI_CONFIG', `${file} must hold a mapping of settings`);
  }
  const known = new Set([...SETTINGS.map((s) => s.key as string), 'alerts', 'agent_compatibility', 'webhooks']);
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) throw new ConfigError('OMOI_CONFIG', `${file}: unknown setting ${JSON.stringify(key)}`);
  }
  return parsed as Record<string, unknown>;
}
