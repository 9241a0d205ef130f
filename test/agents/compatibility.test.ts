// Compatibility at registration: the checks as a table, the config section, and on a real node
// (NATS, PostgreSQL): a refused registration is a dead letter naming its check, nothing is
// registered; the node's own agent reports its command binary's checksum and its free disk.
import { createHash } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { checkCompatibility, parseCompatibilityConfig, type CompatibilityPolicy } from '../../src/agents/compatibility.ts';
import { probeLocalAgent } from '../../src/agents/local-probe.ts';
import { ConfigError } from '../../src/errors.ts';
import { tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql } from '../flow/helpers.ts';

const SHA = 'a'.repeat(64);
const policy: CompatibilityPolicy = { ranges: { 1: '>=1.2.0 <2.0.0' }, commandSha256: SHA, minDiskPerSlotBytes: 100 * 1024 * 1024 };
const agent = { agent_id: 'a1', version: '1.4.0', kind: 'remote' as const, capacity: 2 };

t.test('each check, with its stable code', async (t) => {
  const cases: Array<[string, Record<string, unknown>, string | null]> = [
    ['inside the range', {}, null],
    ['a prerelease inside the range', { version: '1.5.0-rc.1' }, null],
    ['below the range', { version: '1.1.9' }, 'incompatible_version'],
    ['above the range', { version: '2.0.0' }, 'incompatible_version'],
    ['another protocol', { protocol_version: 2 }, 'unsupported_protocol'],
    ['the protocol spelled out', { protocol_version: 1 }, null],
    ['a remote agent: no checksum asked', { command_sha256: 'b'.repeat(64) }, null],
    ['a local agent with the configured checksum', { kind: 'local', command_sha256: SHA }, null],
    ['a local agent with another checksum', { kind: 'local', command_sha256: 'b'.repeat(64) }, 'checksum_mismatch'],
    ['a local agent without a command to check', { kind: 'local' }, 'checksum_mismatch'],
    ['enough disk for its capacity', { resources: { disk_free_bytes: 200 * 1024 * 1024 } }, null],
    ['too little disk for its capacity', { resources: { disk_free_bytes: 199 * 1024 * 1024 } }, 'insufficient_disk'],
    ['disk not reported (a remote agent may not know)', { resources: {} }, null],
  ];
  for (const [name, change, code] of cases) {
    const facts = { ...agent, ...change } as Parameters<typeof checkCompatibility>[0];
    if (code === null) t.doesNotThrow(() => checkCompatibility(facts, policy), name);
    else t.throws(() => checkCompatibility(facts, policy), { code }, `${name}: ${code}`);
  }
  t.throws(() => checkCompatibility({ ...agent, version: '1.0.0' }, policy), { message: /version 1\.0\.0; protocol 1 accepts agents >=1\.2\.0 <2\.0\.0/ }, 'the message names the range');
  t.doesNotThrow(() => checkCompatibility({ ...agent, version: '9.0.0' }, { ranges: {}, commandSha256: null, minDiskPerSlotBytes: 0 }), 'no range configured for the protocol: any version');
});

t.test('the agent_compatibility section of the config file', async (t) => {
  t.same(parseCompatibilityConfig(undefined), { 1: '>=1.0.0-0 <2.0.0' }, 'default: agents 1.x for protocol 1');
  t.same(parseCompatibilityConfig({ 1: '^1.2.0', 2: '>=2.0.0' }), { 1: '^1.2.0', 2: '>=2.0.0' });
  t.throws(() => parseCompatibilityConfig(['>=1']), ConfigError);
  t.throws(() => parseCompatibilityConfig({ one: '>=1.0.0' }), { message: /"one" is not a protocol version/ });
  t.throws(() => parseCompatibilityConfig({ 1: 'not a range!' }), { message: /is not a semver range/ });
  t.throws(() => parseCompatibilityConfig({ 1: 3 }), { message: /is not a semver range/ });
});

t.test('the local probe: the checksum of the command found on PATH, and the free disk', async (t) => {
  const dir = await tempDir(t, 'probe-');
  const binary = path.join(dir, 'my-agent');
  writeFileSync(binary, '#!/bin/sh\necho agent\n');
  chmodSync(binary, 0o755);
  const sha = createHash('sha256').update('#!/bin/sh\necho agent\n').digest('hex');
  const probed = await probeLocalAgent({ agentCommand: 'my-agent --prompt {prompt_file}', dataDir: dir, env: { PATH: `/nonexistent:${dir}` } });
  t.equal(probed.command_sha256, sha, 'found on PATH, hashed');
  t.ok(probed.resources.disk_free_bytes > 0, 'free disk reported');
  t.equal((await probeLocalAgent({ agentCommand: binary, dataDir: dir })).command_sha256, sha, 'an absolute path as it is');
  t.equal((await probeLocalAgent({ agentCommand: 'no-such-agent {prompt_file}', dataDir: dir, env: { PATH: dir } })).command_sha256, undefined, 'not found: nothing reported');
  t.equal((await probeLocalAgent({ dataDir: dir })).command_sha256, undefined, 'no agent command: nothing reported');
});

t.test('on a node: refused registrations are dead letters naming the check; the node\'s own agent checked by its binary', async (t) => {
  const cluster = await withCluster(t);
  const dir = await tempDir(t, 'agent-bin-');
  const binary = path.join(dir, 'team-agent');
  writeFileSync(binary, '#!/bin/sh\nexit 0\n');
  chmodSync(binary, 0o755);
  // The node's own agent: its command's binary is not the one the config expects.
  const node = await withNode(t, cluster, { agentCompatibility: { 1: '>=1.0.0 <1.5.0' }, agentCommand: `${binary} {prompt_file}`, agentCommandSha256: 'c'.repeat(64), agentMinDiskPerSlotMb: 1024 });
  const refused = async (code: string) => waitFor(`a dead letter ${code}`, async () => (await sql<any>(node, 'select * from omoi_dead_letter where code = ?', [code]))[0]);
  const register = (id: string, more: Record<string, unknown>) =>
    node.submit('agent.register', { agent_id: id, name: id, phase: 'execute', capabilities: [], version: '1.2.0', kind: 'remote', capacity: 1, ...more });

  const local = `local-${node.config.nodeId}`;
  t.match((await refused('checksum_mismatch')).reason, new RegExp(`agent ${local}'s command binary has sha256 [0-9a-f]{64}, not the configured c{64}`), 'the node\'s own agent is refused');
  const [own] = await sql<any>(node, 'select status from omoi_agent where id = ?', [local]);
  t.equal(own, undefined, 'and not registered');

  await register('too-new', { version: '1.5.0' });
  t.match((await refused('incompatible_version')).reason, /agent too-new is version 1\.5\.0; protocol 1 accepts agents >=1\.0\.0 <1\.5\.0/);
  await register('future', { protocol_version: 7 });
  t.match((await refused('unsupported_protocol')).reason, /speaks protocol 7; this cluster speaks 1/);
  await register('small-disk', { capacity: 4, resources: { disk_free_bytes: 2 * 1024 ** 3 } });
  t.match((await refused('insufficient_disk')).reason, /has 2048 MiB free for sandboxes; its capacity of 4 needs 4096 MiB/);
  await register('fits', { capacity: 1, resources: { disk_free_bytes: 2 * 1024 ** 3 } });
  await waitFor('a compatible agent registered', async () => (await sql<any>(node, `select status from omoi_agent where id = 'fits'`))[0]);
  t.same(await sql(node, `select id from omoi_agent where id in ('too-new', 'future', 'small-disk')`), [], 'nothing refused was registered');
  const errors = await sql<any>(node, `select type, payload from omoi_event where type = 'error.rejected' and payload->>'code' in ('incompatible_version', 'unsupported_protocol', 'insufficient_disk', 'checksum_mismatch')`);
  t.ok(errors.length === 0 || errors.length >= 4, 'refusals are published like every rejection (when events are stored)');
});
