import t from 'tap';
import { pino } from 'pino';
import { generateAgentKeyPair } from '../../src/http/agent-keys.ts';
import { AgentAuthenticator, type ReceivedMessage } from '../../src/messaging/agent-authenticator.ts';
import { openDatabase } from '../../src/persistence/index.ts';
import { decodeIngress, signAgentMessage } from '../../src/protocol/index.ts';
import { withPostgres } from '../harness/index.ts';

// The router's check of signed agent messages, on a real database: which key signs, the replay
// table (a redelivery is not a replay), its pruning, and the key cache around a rotation.

const pg = await withPostgres(t);
const log = pino({ level: 'silent' });
const db = await openDatabase(pg.url, log);
t.teardown(() => db.close());
const sql = async (q: string, params: unknown[] = []) => (await db.em().getConnection().execute(q, params)) as any[];

const keys = generateAgentKeyPair();
await sql(`insert into omoi_agent (id, name, phase, capabilities, agent_version, kind, public_key, status, capacity, running, registered_at, restarts, updated_at, version)
  values ('a1', 'a1', 'execute', '[]', '1.0.0', 'remote', ?, 'healthy', 1, '[]', now(), 0, now(), 1)`, [keys.publicKey]);

let seq = 0;
/** A signed heartbeat of `a1` as the router receives it (a fresh stream sequence unless given). */
function message(o: { msgId?: string; privateKey?: string; streamSeq?: number; type?: string; payload?: unknown } = {}): { m: ReceivedMessage; env: ReturnType<typeof decodeIngress> } {
  const type = o.type ?? 'agent.heartbeat';
  const subject = `omoi.in.${type}`;
  const data = Buffer.from(JSON.stringify(o.payload ?? { agent_id: 'a1' }));
  const msgId = o.msgId ?? `m-${Math.random()}`;
  const h: Record<string, string> = signAgentMessage({ subject, body: data, msgId, agentId: 'a1', privateKey: o.privateKey ?? keys.privateKey });
  return { m: { subject, data, header: (n) => h[n], streamSeq: o.streamSeq ?? ++seq }, env: decodeIngress(subject, data, msgId, 'node-x') };
}

t.test('accepted: the source becomes the agent; the same id again is a replay unless it is the same stream message', async (t) => {
  const auth = new AgentAuthenticator({ db, log, maxAgeMs: 300_000 });
  const first = message({ msgId: 'once', streamSeq: 1000 });
  t.equal((await auth.authenticate(first.m, first.env)).source, 'agent:a1');
  t.equal((await auth.authenticate(first.m, first.env)).source, 'agent:a1', 'redelivered (same stream sequence): accepted again');
  const replay = message({ msgId: 'once', streamSeq: 1001 });
  await t.rejects(auth.authenticate(replay.m, replay.env), { code: 'replayed' }, 'the same id in another stream message: refused');
  t.same(await sql(`select agent_id, message_id, stream_seq::int as seq from omoi_agent_message where message_id = 'once'`), [{ agent_id: 'a1', message_id: 'once', seq: 1000 }]);
});

t.test('ids older than twice the max age are pruned', async (t) => {
  await sql(`insert into omoi_agent_message (agent_id, message_id, stream_seq, at) values ('a1', 'ancient', 1, now() - interval '1 hour'), ('a1', 'recent', 2, now() - interval '1 minute')`);
  const auth = new AgentAuthenticator({ db, log, maxAgeMs: 60_000 });
  const m = message();
  await auth.authenticate(m.m, m.env);
  await new Promise((r) => setTimeout(r, 200)); // the prune runs beside the check
  const left = (await sql(`select message_id from omoi_agent_message where message_id in ('ancient', 'recent')`)).map((r) => r.message_id);
  t.same(left, ['recent'], 'an hour old is past 2 × 60 s; a minute old is kept');
});

t.test('a rotated key is taken at once, the old one within the cache time', async (t) => {
  const auth = new AgentAuthenticator({ db, log, maxAgeMs: 300_000, cacheMs: 60_000 });
  const warm = message();
  await auth.authenticate(warm.m, warm.env); // the old key is now cached for a minute
  const next = generateAgentKeyPair();
  await sql(`update omoi_agent set public_key = ? where id = 'a1'`, [next.publicKey]);
  const signedByNew = message({ privateKey: next.privateKey });
  t.equal((await auth.authenticate(signedByNew.m, signedByNew.env)).source, 'agent:a1', 'the new key is not refused by the cached old one');
  const signedByOld = message();
  await t.rejects(auth.authenticate(signedByOld.m, signedByOld.env), { code: 'bad_signature' }, 'and the old key is refused once the new one was read');
});

t.test('registration: a new agent signs with the key it registers; an existing one only with its stored key', async (t) => {
  const auth = new AgentAuthenticator({ db, log, maxAgeMs: 300_000 });
  const fresh = generateAgentKeyPair();
  const register = (agentId: string, publicKey: string) => ({ agent_id: agentId, name: 'x', phase: 'execute', capabilities: [], version: '1.0.0', kind: 'remote', public_key: publicKey });
  const subject = 'omoi.in.agent.register';
  const signedAs = (agentId: string, privateKey: string, payload: unknown) => {
    const data = Buffer.from(JSON.stringify(payload));
    const h: Record<string, string> = signAgentMessage({ subject, body: data, msgId: `r-${Math.random()}`, agentId, privateKey });
    return { m: { subject, data, header: (n: string) => h[n], streamSeq: ++seq }, env: decodeIngress(subject, data, h['Nats-Msg-Id'], 'node-x') };
  };
  const newcomer = signedAs('b1', fresh.privateKey, register('b1', fresh.publicKey));
  t.equal((await auth.authenticate(newcomer.m, newcomer.env)).source, 'new-agent:b1', 'a new agent: proof of possession only');
  const current = (await sql(`select public_key from omoi_agent where id = 'a1'`))[0].public_key as string;
  const takeover = signedAs('a1', fresh.privateKey, register('a1', fresh.publicKey));
  await t.rejects(auth.authenticate(takeover.m, takeover.env), { code: 'bad_signature' }, 'an existing agent re-registered with a key not its own: refused');
  t.ok(current, 'a1 keeps its key');
  await sql(`update omoi_agent set status = 'removed' where id = 'a1'`);
  t.teardown(() => sql(`update omoi_agent set status = 'healthy' where id = 'a1'`).then(() => undefined));
  const anew = signedAs('a1', fresh.privateKey, register('a1', fresh.publicKey));
  t.equal((await auth.authenticate(anew.m, anew.env)).source, 'new-agent:a1', 'a removed agent\'s id may be registered anew, with proof of its new key');
});
