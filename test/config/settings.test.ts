import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ConfigError } from '../../src/errors.ts';
import { DEFAULTS, loadConfig, natsServers, SETTINGS } from '../../src/config/index.ts';
import { DUPLICATE_WINDOW_MS } from '../../src/messaging/duplicate-window.ts';

t.test('defaults: embedded servers, 64 partitions, a node id', async (t) => {
  const c = loadConfig({});
  t.equal(c.databaseUrl, undefined, 'no DATABASE_URL → embedded PostgreSQL');
  t.equal(c.natsUrl, undefined, 'no NATS_URL → embedded nats-server');
  t.equal(c.partitions, 64);
  t.equal(c.httpPort, DEFAULTS.httpPort);
  t.match(c.nodeId, /-7070$/);
  t.same(c.localAgentCapabilities, []);
  t.equal(c.streamReplicas, 1, 'one replica per stream');
});

t.test('NATS_URL may list the servers of a NATS cluster; each is checked', async (t) => {
  const three = 'nats://10.0.0.1:4222, nats://10.0.0.2:4222,tls://10.0.0.3:4222';
  const c = loadConfig({ NATS_URL: three, OMOI_STREAM_REPLICAS: '3' });
  t.equal(c.natsUrl, 'nats://10.0.0.1:4222,nats://10.0.0.2:4222,tls://10.0.0.3:4222');
  t.same(natsServers(c.natsUrl!), ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222', 'tls://10.0.0.3:4222']);
  t.equal(c.streamReplicas, 3);
  t.same(natsServers('nats://127.0.0.1:4222'), ['nats://127.0.0.1:4222'], 'one URL is a list of one');
  for (const [value, problem] of [
    ['nats://10.0.0.1:4222,http://10.0.0.2:4222', /^NATS_URL: must use nats: or tls:, got "http:"/],
    ['nats://10.0.0.1:4222,10.0.0.2', /^NATS_URL: is not a URL: "10\.0\.0\.2"/],
    [' , ', /^NATS_URL: must not be empty/],
  ] as const) {
    t.throws(() => loadConfig({ NATS_URL: value }), problem, `${JSON.stringify(value)} is refused`);
  }
});

t.test('the environment overrides the config file, which overrides defaults', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omoi-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'omoi.yaml');
  fs.writeFileSync(file, 'partitions: 16\nhttpPort: 8080\nlocalAgentCapabilities: git,python\n');
  const c = loadConfig({ OMOI_CONFIG: file, OMOI_HTTP_PORT: '9090' });
  t.equal(c.partitions, 16, 'from the file');
  t.equal(c.httpPort, 9090, 'the environment wins');
  t.same(c.localAgentCapabilities, ['git', 'python']);
});

t.test('each invalid setting is named in one clear error', async (t) => {
  const bad: Record<string, string> = {
    OMOI_HTTP_PORT: 'abc', OMOI_PARTITIONS: '0', DATABASE_URL: 'mysql://x', NATS_URL: 'not a url', OMOI_LOG_LEVEL: 'loud',
    OMOI_MAX_DELIVER: '-1', OMOI_ACK_WAIT_MS: '5', OMOI_NODE_ID: ' ', OMOI_LOCAL_AGENT_CAPABILITIES: 'a b',
    OMOI_AGENT_RESTART_MAX: 'many', OMOI_STREAM_REPLICAS: '6',
  };
  for (const [name, value] of Object.entries(bad)) {
    let caught: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError && caught.setting === name && caught.message.startsWith(`${name}: `), `${name}=${JSON.stringify(value)} → ${(caught as Error)?.message}`);
  }
  t.throws(() => loadConfig({ OMOI_AGENT_DEGRADED_AFTER_MS: '5000', OMOI_AGENT_FAILED_AFTER_MS: '1000' }), /OMOI_AGENT_FAILED_AFTER_MS/);
  t.throws(() => loadConfig({ OMOI_CONFIG: '/nonexistent/omoi.yaml' }), /OMOI_CONFIG: cannot read/);
});

t.test('retention: processed ids are kept at least the streams\' duplicate window; every retention has a default', async (t) => {
  const c = loadConfig({});
  t.equal(c.retentionProcessedMs, 86_400_000, 'a day');
  t.equal(c.retentionSweepMs, 300_000);
  t.equal(loadConfig({ OMOI_RETENTION_PROCESSED_MS: String(DUPLICATE_WINDOW_MS) }).retentionProcessedMs, DUPLICATE_WINDOW_MS, 'the window itself is enough');
  let caught: unknown;
  try {
    loadConfig({ OMOI_RETENTION_PROCESSED_MS: String(DUPLICATE_WINDOW_MS - 1) });
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof ConfigError && caught.setting === 'OMOI_RETENTION_PROCESSED_MS', 'refused, naming the setting');
  t.match((caught as Error).message, /^OMOI_RETENTION_PROCESSED_MS: must be at least the streams' duplicate window, 600000 ms \(10 minutes\), got 599999 \[invalid_config\]$/);
  t.throws(() => loadConfig({ OMOI_ACK_WAIT_MS: '3600000', OMOI_RETENTION_PROCESSED_MS: '1800000' }), /^OMOI_RETENTION_PROCESSED_MS: must be at least OMOI_ACK_WAIT_MS \(3600000 ms\)/, 'nor below the ack wait');
  t.throws(() => loadConfig({ OMOI_RETENTION_EVENTS_MS: '0' }), /^OMOI_RETENTION_EVENTS_MS: must be an integer from 1/);
  t.throws(() => loadConfig({ OMOI_STREAM_MAX_BYTES: '1000' }), /^OMOI_STREAM_MAX_BYTES: must be an integer from 1048576/);
});

t.test('the README lists every setting with its variable', async (t) => {
  const readme = fs.readFileSync('README.md', 'utf8');
  for (const s of SETTINGS) t.ok(readme.includes(`| \`${s.env}\` | \`${s.key}\` |`), `${s.env} is documented`);
});

t.test('NATS credentials: files must be readable, pairs complete, one kind at a time', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omoi-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const seed = path.join(dir, 'agent.nk');
  fs.writeFileSync(seed, 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n', { mode: 0o600 });
  const c = loadConfig({ NATS_URL: 'nats://h:4222', NATS_NKEY: seed, NATS_INBOX_PREFIX: '_INBOX.omoi-agent.a1' });
  t.equal(c.natsNkey, seed);
  t.equal(c.natsInboxPrefix, '_INBOX.omoi-agent.a1');
  t.equal(loadConfig({ NATS_USER: 'u', NATS_PASSWORD: 'p' }).natsPassword, 'p');
  for (const [env, setting, problem] of [
    [{ NATS_USER: 'u' }, 'NATS_PASSWORD', /must be set with NATS_USER/],
    [{ NATS_PASSWORD: 'p' }, 'NATS_USER', /must be set with NATS_PASSWORD/],
    [{ NATS_CREDS: path.join(dir, 'missing.creds') }, 'NATS_CREDS', /cannot read .*missing\.creds.*ENOENT/],
    [{ NATS_CA: dir }, 'NATS_CA', /is not a file/],
    [{ NATS_CERT: seed }, 'NATS_KEY', /must be set with NATS_CERT/],
    [{ NATS_USER: 'u', NATS_PASSWORD: 'p', NATS_NKEY: seed }, 'NATS_NKEY', /set only one of/],
    [{ NATS_INBOX_PREFIX: '_INBOX.>' }, 'NATS_INBOX_PREFIX', /dot-separated tokens/],
  ] as const) {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError && caught.setting === setting, `${JSON.stringify(env)} → ${(caught as Error)?.message}`);
    t.match((caught as Error)?.message, problem);
  }
  // As root every file is readable: check an unreadable one only where permissions bite.
  if (process.getuid?.() !== 0) {
    const locked = path.join(dir, 'locked.creds');
    fs.writeFileSync(locked, 'x', { mode: 0o000 });
    t.throws(() => loadConfig({ NATS_CREDS: locked }), /NATS_CREDS: cannot read .*EACCES/);
  }
});

