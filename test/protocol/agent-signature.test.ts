import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { SIGNING_EXAMPLES } from '../../src/cli/signing-examples.ts';
import { generateAgentKeyPair } from '../../src/http/agent-keys.ts';
import { publicKeyOf, readAgentHeaders, signAgentMessage, verifyAgentMessage, type SignedClaim } from '../../src/protocol/index.ts';
import { tempDir } from '../harness/index.ts';

const exec = promisify(execFile);
const keys = generateAgentKeyPair();
const publicKey = publicKeyOf(keys.publicKey, 'agent-7');
const subject = 'omoi.in.agent.heartbeat';
const body = '{"agent_id":"agent-7"}';
const claimOf = (h: Record<string, string>) => readAgentHeaders((name) => h[name]);
const check = (claim: SignedClaim, o: { subject?: string; body?: string; now?: Date } = {}) =>
  verifyAgentMessage({ subject: o.subject ?? subject, body: o.body ?? body, claim, publicKey, now: o.now ?? new Date(), maxAgeMs: 300_000 });

t.test('a signature binds the subject, id, time, agent and body', async (t) => {
  const h = signAgentMessage({ subject, body, msgId: 'beat-1', agentId: 'agent-7', privateKey: keys.privateKey });
  const claim = claimOf(h);
  t.doesNotThrow(() => check(claim), 'the signed message verifies');
  t.throws(() => check(claim, { subject: 'omoi.in.agent.deregister' }), { code: 'bad_signature' }, 'another subject');
  t.throws(() => check(claim, { body: '{"agent_id":"agent-8"}' }), { code: 'bad_signature' }, 'another body');
  t.throws(() => check({ ...claim, msgId: 'beat-2' }), { code: 'bad_signature' }, 'another id');
  t.throws(() => check({ ...claim, agentId: 'agent-8' }), { code: 'bad_signature' }, 'another agent');
  t.throws(() => check({ ...claim, time: new Date(Date.now() + 1000).toISOString() }), { code: 'bad_signature' }, 'another time');
  t.throws(() => check({ ...claim, signature: 'AAAA' }), { code: 'bad_signature' }, 'a signature of the wrong length');
  const other = generateAgentKeyPair();
  t.throws(() => check(claimOf(signAgentMessage({ subject, body, msgId: 'beat-1', agentId: 'agent-7', privateKey: other.privateKey }))), { code: 'bad_signature' }, 'another key');
});

t.test('the time must be within the max age, either way; headers must all be there; keys must be ed25519', async (t) => {
  const at = new Date('2026-12-02T10:00:00.000Z');
  const claim = claimOf(signAgentMessage({ subject, body, msgId: 'beat-1', agentId: 'agent-7', privateKey: keys.privateKey, time: at }));
  t.doesNotThrow(() => check(claim, { now: new Date(at.getTime() + 300_000) }), 'exactly the max age later');
  t.throws(() => check(claim, { now: new Date(at.getTime() + 300_001) }), { code: 'replayed' }, 'older');
  t.throws(() => check(claim, { now: new Date(at.getTime() - 300_001) }), { code: 'replayed' }, 'from the future');
  const unparsable = claimOf(signAgentMessage({ subject, body, msgId: 'x', agentId: 'agent-7', privateKey: keys.privateKey }));
  t.throws(() => check({ ...unparsable, time: 'yesterday' }), { code: 'bad_signature' }, 'signed garbage in Omoi-Time is still refused (signature first)');
  t.throws(() => readAgentHeaders(() => undefined), { code: 'bad_signature', message: /missing headers Nats-Msg-Id, Omoi-Agent, Omoi-Time, Omoi-Signature/ });
  t.throws(() => readAgentHeaders((n) => (n === 'Omoi-Signature' ? undefined : 'x')), { message: /missing header Omoi-Signature/ });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  t.throws(() => publicKeyOf(rsa.publicKey, 'agent-7'), { code: 'bad_signature', message: /not an ed25519 key: a rsa key/ });
  t.throws(() => publicKeyOf('not a key', 'agent-7'), { code: 'bad_signature' });
});

t.test('the Node, Python and shell examples of docs/protocol.md make headers the node accepts', async (t) => {
  const dir = await tempDir(t, 'signing-examples');
  await writeFile(path.join(dir, 'agent-7.key'), keys.privateKey);
  /** `out`: the headers as JSON, a newline, the exact body it signed. */
  const verifies = (t: Tap, out: string, what: string) => {
    const [headers, ...rest] = out.split('\n');
    const h = JSON.parse(headers!) as Record<string, string>;
    const signedBody = rest.join('\n');
    t.match(JSON.parse(signedBody), { agent_id: 'agent-7' }, `${what}: a heartbeat`);
    t.doesNotThrow(() => check(claimOf(h), { body: signedBody }), `${what}: its signature verifies`);
    t.equal(h['Omoi-Agent'], 'agent-7');
  };
  type Tap = typeof t;
  const node = await exec('node', ['--input-type=module', '-e', `${SIGNING_EXAMPLES.node}\nprocess.stdout.write(JSON.stringify(headers) + '\\n' + body);`], { cwd: dir });
  verifies(t, node.stdout, 'node');
  const python = await exec('python3', ['-c', `${SIGNING_EXAMPLES.python}\nimport sys\nsys.stdout.write(json.dumps(headers) + "\\n" + body.decode())`], { cwd: dir });
  verifies(t, python.stdout, 'python');
  // The shell example without its last line (`nats pub`): the headers it would send.
  const lines = SIGNING_EXAMPLES.shell.split('\n');
  t.match(lines.at(-1), /^nats pub /);
  const shell = await exec('sh', ['-c', `${lines.slice(0, -1).join('\n')}\nprintf '{"Nats-Msg-Id":"%s","Omoi-Agent":"%s","Omoi-Time":"%s","Omoi-Signature":"%s"}\\n%s' "$id" "$agent" "$time" "$sig" "$body"`], { cwd: dir });
  verifies(t, shell.stdout, 'shell');
});
