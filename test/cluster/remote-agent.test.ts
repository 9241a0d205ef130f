import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import t from 'tap';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { evenlyShared, holderOf, idInPartitions } from '../harness/partition-ids.ts';
import { partitionOf } from '../../src/protocol/index.ts';
import { events, filesAt, gitIn as gitInClone, sql, task, taskRows, waitTicket } from '../flow/helpers.ts';

// The remote-agent loop of docs/protocol.md, driven by an agent written here with nothing of
// Omoi's: the nats.js client, the git CLI and a shell. It registers, heartbeats, reads its
// assignments from a durable consumer (acking each), fetches each task's base (from the
// ticket's repository, or as bundles from the OMOI_GIT object store: a join's merge commit was
// made by a node), runs the task, and delivers its commit as a bundle before `task.complete`.
// Every message it sends is signed with its own ed25519 key (docs/protocol.md, *Signing*).
// Two nodes: the agent's partition and the ticket's are held by different nodes.

const exec = promisify(execFile);
const sh = async (cwd: string, ...args: string[]) => (await exec(args[0]!, args.slice(1), { cwd })).stdout.trim();
const gitIn = (cwd: string, ...args: string[]) => sh(cwd, 'git', '-c', 'user.name=Plain Agent', '-c', 'user.email=plain@agent.invalid', ...args);

/** What the agent should do wrong with an attempt, if anything (to see the node refuse it). */
type Misdeed = 'unsent_commit' | 'unrelated_commit' | undefined;

/** A remote agent as a user would write one: plain NATS and git, nothing of Omoi's. */
class PlainAgent {
  readonly delivered: Array<{ task: string; attempt: number; commit: string }> = [];
  /** The attempts it was told to stop (`<ticket>/<task>/<attempt>`). */
  readonly stops: string[] = [];
  /** The task command of each attempt running now, by `<ticket>/<task>/<attempt>`. */
  private readonly running = new Map<string, ChildProcess>();
  /** One clone per ticket, made by the first of its attempts. */
  private readonly clones = new Map<string, Promise<unknown>>();
  private store!: ObjectStore;
  private beat?: NodeJS.Timeout;
  private messages?: { stop(): unknown };
  private work!: string;

  constructor(
    private readonly nc: NatsConnection, readonly id: string, private readonly capability: string,
    private readonly misdeed: (task: string, attempt: number) => Misdeed = () => undefined,
  ) {}

  /** Its signing key: the public half is registered, the private half never leaves it. */
  private readonly keys = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

  private readonly js = () => jetstream(this.nc);
  /** Signed: "omoi-agent-v1\n" + subject + "\n" + id + "\n" + time + "\n" + agent + "\n" + body. */
  private publish(type: string, payload: Record<string, unknown>, id: string) {
    const subject = `omoi.in.${type}`;
    const body = JSON.stringify(payload);
    const time = new Date().toISOString();
    const signature = sign(null, Buffer.from(`omoi-agent-v1\n${subject}\n${id}\n${time}\n${this.id}\n${body}`), this.keys.privateKey);
    const h = headers();
    h.set('Nats-Msg-Id', id);
    h.set('Omoi-Agent', this.id);
    h.set('Omoi-Time', time);
    h.set('Omoi-Signature', signature.toString('base64'));
    return this.js().publish(subject, body, { headers: h });
  }

  async start(): Promise<void> {
    this.work = await mkdtemp(path.join(os.tmpdir(), 'plain-agent-'));
    this.store = await new Objm(this.js()).open('OMOI_GIT');
    // Registered once its `agent.status` event says so: only then does a node know its key.
    const registered = this.nc.subscribe('omoi.evt.agent.status');
    await this.nc.flush();
    await this.publish('agent.register', { agent_id: this.id, name: 'plain agent', phase: 'execute', capabilities: [this.capability], version: '1.0.0', kind: 'remote', capacity: 2, public_key: this.keys.publicKey }, `register-${this.id}`);
    for await (const m of registered) {
      if (m.json<{ payload: { agent_id: string } }>().payload.agent_id === this.id) break;
    }
    registered.unsubscribe();
    const beat = () => void this.publish('agent.heartbeat', { agent_id: this.id }, `beat-${this.id}-${Date.now()}`).catch(() => undefined);
    beat();
    this.beat = setInterval(beat, 300);
    // Its assignments and stops, durably: a consumer of its own on the stream that stores them.
    const jsm = await jetstreamManager(this.nc);
    await jsm.consumers.add('OMOI_EVT', { durable_name: `agent-${this.id}`, filter_subject: `omoi.agent.${this.id}.>`, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: 60_000_000_000 });
    const consumer = await this.js().consumers.get('OMOI_EVT', `agent-${this.id}`);
    const messages = await consumer.consume();
    this.messages = messages;
    void (async () => {
      for await (const m of messages) {
        if (m.subject.endsWith('.stop')) {
          const s = m.json<{ ticket_id: string; task_id: string; attempt: number }>();
          const key = `${s.ticket_id}/${s.task_id}/${s.attempt}`;
          this.stops.push(key);
          const child = this.running.get(key);
          if (child?.pid) process.kill(-child.pid, 'SIGKILL'); // the command's whole process group
          // Acknowledged: until then the attempt keeps its slot here.
          await this.publish('agent.stop_acknowledged', { agent_id: this.id, ticket_id: s.ticket_id, task_id: s.task_id, attempt: s.attempt }, `stop-ack-${s.ticket_id}-${s.task_id}-${s.attempt}`);
          m.ack();
          continue;
        }
        // Assignments run side by side (its capacity is 2); a failure is delivered again.
        void this.handle(m).catch((err) => { console.error(`plain agent: ${(err as Error).message}`); m.nak(1_000); });
      }
    })();
  }

  async stop(): Promise<void> {
    clearInterval(this.beat);
    this.messages?.stop();
    await this.publish('agent.deregister', { agent_id: this.id, reason: 'test over' }, `deregister-${this.id}`);
    await rm(this.work, { recursive: true, force: true });
  }

  private async handle(m: JsMsg): Promise<void> {
    const a = m.json<{ ticket_id: string; task_id: string; attempt: number; base: string; branch: string; run: string; repository: string }>();
    const ref = { ticket_id: a.ticket_id, task_id: a.task_id, attempt: a.attempt };
    const attemptId = `${a.ticket_id}-${a.task_id}-${a.attempt}`;
    await this.publish('task.started', ref, `started-${attemptId}`);
    const repo = path.join(this.work, a.ticket_id);
    if (!this.clones.has(a.ticket_id)) this.clones.set(a.ticket_id, exec('git', ['clone', '--quiet', '--no-checkout', a.repository, repo]));
    await this.clones.get(a.ticket_id);
    await this.fetchCommit(repo, a.ticket_id, a.base);
    const dir = path.join(this.work, attemptId);
    await gitIn(repo, 'worktree', 'remove', '--force', dir).catch(() => undefined); // a redelivery starts over
    await gitIn(repo, 'worktree', 'add', '--quiet', '-B', a.branch, dir, a.base);
    const key = `${a.ticket_id}/${a.task_id}/${a.attempt}`;
    const child = spawn('sh', ['-c', a.run], { cwd: dir, detached: true, stdio: 'ignore' });
    this.running.set(key, child);
    const [code, signal] = await once(child, 'exit') as [number | null, string | null];
    this.running.delete(key);
    if (signal) { // stopped: the attempt ended for its ticket, nothing to report
      await gitIn(repo, 'worktree', 'remove', '--force', dir);
      m.ack();
      return;
    }
    if (code !== 0) {
      await this.publish('task.fail', { ...ref, error: `exited with ${code}`, retryable: true }, `fail-${attemptId}`);
      m.ack();
      return;
    }
    await gitIn(dir, 'add', '-A');
    await gitIn(dir, 'commit', '--quiet', '--allow-empty', '-m', `${a.task_id} attempt ${a.attempt}`);
    let commit = await gitIn(dir, 'rev-parse', 'HEAD');
    const misdeed = this.misdeed(a.task_id, a.attempt);
    if (misdeed === 'unrelated_commit') {
      // A commit of the right files that does not build on the base: a history of its own.
      commit = await gitIn(dir, 'commit-tree', '-m', 'unrelated', `${commit}^{tree}`);
      await gitIn(dir, 'reset', '--quiet', '--soft', commit);
      await this.upload(dir, a.ticket_id, commit, []);
    } else if (misdeed !== 'unsent_commit') {
      await this.upload(dir, a.ticket_id, commit, [a.base]);
    }
    await this.publish('task.complete', { ...ref, commit, result: { by: this.id } }, `complete-${attemptId}`);
    this.delivered.push({ task: a.task_id, attempt: a.attempt, commit });
    await gitIn(repo, 'worktree', 'remove', '--force', dir);
    m.ack();
  }

  /**
   * Delivers the commit checked out in `dir`: a bundle of what it adds over `requires` (git
   * bundles a ref, hence `HEAD`), as `<ticket>/<commit>`, with its `requires`.
   */
  private async upload(dir: string, ticket: string, commit: string, requires: string[]): Promise<void> {
    const file = path.join(this.work, `${commit}.bundle`);
    await gitIn(dir, 'bundle', 'create', '--quiet', file, 'HEAD', ...requires.map((r) => `^${r}`));
    await this.store.putBlob({ name: `${ticket}/${commit}`, metadata: { requires: requires.join(',') } }, await readFile(file));
  }

  /** Brings `commit` into `repo`: from the object store, walking `requires` first, else from the repository. */
  private async fetchCommit(repo: string, ticket: string, commit: string): Promise<void> {
    if (await gitIn(repo, 'cat-file', '-e', `${commit}^{commit}`).then(() => true, () => false)) return;
    const info = await this.store.info(`${ticket}/${commit}`);
    if (!info) throw new Error(`commit ${commit} is in neither the object store nor the repository`);
    for (const before of (info.metadata?.requires ?? '').split(',').filter(Boolean)) await this.fetchCommit(repo, ticket, before);
    const file = path.join(this.work, `${commit}.in.bundle`);
    await writeFile(file, (await this.store.getBlob(`${ticket}/${commit}`))!);
    await gitIn(repo, 'bundle', 'unbundle', file);
  }
}

t.setTimeout(400_000); // two nodes, a DAG and a second ticket: about 100 s on an idle machine
const cluster = await withCluster(t);
// Leases of 6 s (3 heartbeats): on a loaded machine shorter ones may change holder mid-test.
// Node a starts first and keeps partitions 0 and 1 when b comes; b's own agent (capability
// `b-only`) lives in one of them, so a node other than b handles it.
const a = await withNode(t, cluster, { partitions: 4, heartbeatMs: 2_000 });
const bNode = idInPartitions('agent', 'local-b', [0, 1], 4).slice('local-'.length);
const b = await withNode(t, cluster, { partitions: 4, heartbeatMs: 2_000, nodeId: bNode, localAgentCapabilities: ['b-only'] });
const [aParts, bParts] = await evenlyShared([a, b]);

const nc = await connect({ servers: cluster.nats.url });
t.teardown(() => nc.close());

t.test('a remote agent with no Omoi code runs a DAG with a join: fetches bases, delivers bundles; bad deliveries are refused and retried', async (t) => {
  const agentId = idInPartitions('agent', 'plain-', bParts!, 4);
  const ticketId = idInPartitions('ticket', 'R', aParts!, 4);
  t.comment(`agent ${agentId} on node ${b.config.nodeId}'s partitions ${bParts}; ticket ${ticketId} on node ${a.config.nodeId}'s ${aParts}`);
  const agent = new PlainAgent(nc, agentId, 'plain', (task, attempt) => (attempt > 1 ? undefined : task === 'B1' ? 'unsent_commit' : task === 'B2' ? 'unrelated_commit' : undefined));
  await agent.start();
  t.teardown(() => agent.stop());
  await waitFor('the agent is healthy', async () => (await sql<any>(a, 'select status from omoi_agent where id = ?', [agentId]))[0]?.status === 'healthy');

  const repo = await makeRepo(t, { 'README.md': 'plain\n' });
  const plain = { capabilities: ['plain'] }; // only the plain agent has it: no node's own agent takes these
  await nc.publish('omoi.in.ticket.create', JSON.stringify({
    ticket_id: ticketId, title: 'remote agent loop', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', 'echo a > a.txt', { ...plain, owns: ['a.txt'] }),
      task('B1', 'echo b1 > b1.txt', { ...plain, owns: ['b1.txt'], depends_on: ['A'] }),
      task('B2', 'echo b2 > b2.txt', { ...plain, owns: ['b2.txt'], depends_on: ['A'] }),
      task('J', 'cat a.txt b1.txt b2.txt > j.txt', { ...plain, owns: ['j.txt'], depends_on: ['B1', 'B2'] }),
    ],
  }));
  const ticket = await waitTicket(a, ticketId, 'completed', 90_000);

  const rows = await taskRows(a, ticketId);
  t.same(Object.values(rows).map((r) => [r.id, r.status, r.attempt, r.agent_id]), [
    ['A', 'completed', 1, agentId], ['B1', 'completed', 2, agentId], ['B2', 'completed', 2, agentId], ['J', 'completed', 1, agentId],
  ], 'every task ran on the plain agent; the two bad deliveries were retried once each');
  const retries = (await events(a, ticketId, 'task.status')).filter((e) => e.payload.status === 'ready' && e.payload.attempt === 1).map((e) => [e.payload.task_id, e.payload.reason]);
  t.match(Object.fromEntries(retries), {
    B1: /commit_unavailable/,
    B2: /does not descend from the task's base .*not_descendant/,
  }, 'a commit never uploaded and one not built on the base were refused, each with a clear reason');
  t.equal(rows.B1!.commit, agent.delivered.find((d) => d.task === 'B1' && d.attempt === 2)!.commit, "B1's commit is the one its second attempt delivered");

  // J ran on the join's merge commit, which a node made: the agent fetched it from the object store.
  const merge = rows.J!.base_commit;
  t.not(merge, rows.A!.commit, "J's base is the join's merge, not A's commit");
  t.equal(ticket.head, rows.J!.commit, "the ticket's head is J's delivered commit");
  // The node holding the ticket now made its branch: it has the head (fetched from the object store).
  const owner = await holderOf([a, b], 'ticket', ticketId);
  t.not(owner, await holderOf([a, b], 'agent', agentId), "the ticket's node is not the one handling the agent");
  t.same(await filesAt(owner, ticketId, ticket.head), ['README.md', 'a.txt', 'b1.txt', 'b2.txt', 'j.txt'], "the final head has every task's file");
  t.equal(await gitInClone(owner, ticketId, 'show', `${ticket.head}:j.txt`), 'a\nb1\nb2', 'J saw the merged code of A, B1 and B2');
  t.equal(await gitInClone(owner, ticketId, 'rev-parse', `omoi/${ticketId}`), ticket.head, "the ticket's branch is at its head");
  t.ok(agent.delivered.length >= 6, `the agent delivered ${agent.delivered.length} results (four tasks, two bad first attempts)`);
  t.same(await sql(a, 'select code from omoi_dead_letter'), [], 'no dead letters: every signed message was taken');
  const unsigned = 'unsigned-complete-J';
  await jetstream(nc).publish('omoi.in.task.complete', JSON.stringify({ ticket_id: ticketId, task_id: 'J', attempt: 1 }), { msgID: unsigned });
  const refused = await waitFor('the unsigned report dead-lettered', async () => (await sql<any>(a, 'select code from omoi_dead_letter where message_id = ?', [unsigned]))[0]);
  t.equal(refused.code, 'bad_signature', 'an unsigned report of the agent\'s task is refused');
});

/** Whether a process with exactly this command line runs (a unique `sleep` is the tag of a task). */
const alive = (tag: string) => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === tag);

t.test('cancelling a task stops it where it runs: on a remote agent (told on omoi.agent.<id>.stop) and on another node\'s agent', async (t) => {
  const agentId = idInPartitions('agent', 'stoppable-', bParts!, 4);
  const agent = new PlainAgent(nc, agentId, 'stoppable');
  await agent.start();
  t.teardown(() => agent.stop());
  t.ok(aParts!.includes(partitionOf('agent', `local-${bNode}`, 4)), `node a handles node b's agent (partition ${partitionOf('agent', `local-${bNode}`, 4)})`);
  await waitFor('the agent is healthy', async () => (await sql<any>(a, 'select status from omoi_agent where id = ?', [agentId]))[0]?.status === 'healthy');

  // Junk on node b's agent subjects first: logged and skipped, its consumer goes on (N below runs there).
  for (const [subject, body] of [['assign', '{not json'], ['assign', '{"agent_id":"x"}'], ['stop', '{"ticket_id":"S","task_id":"N","attempt":"one"}']]) {
    await jetstream(nc).publish(`omoi.agent.local-${bNode}.${subject}`, body!);
  }
  const ticketId = idInPartitions('ticket', 'S', aParts!, 4);
  const seconds = `${700 + (process.pid % 100)}.${Date.now() % 1000}`;
  const remoteTag = `sleep ${seconds}1`;
  const nodeTag = `sleep ${seconds}2`;
  const repo = await makeRepo(t, { 'README.md': 'stop\n' });
  await nc.publish('omoi.in.ticket.create', JSON.stringify({
    ticket_id: ticketId, title: 'stops', repository: repo.dir, base_branch: 'main', ownership: 'lenient',
    tasks: [
      task('R', remoteTag, { capabilities: ['stoppable'], timeout_ms: 600_000 }),
      task('N', nodeTag, { capabilities: ['b-only'], timeout_ms: 600_000 }),
      task('K', 'true', { capabilities: ['stoppable'] }),
    ],
  }));
  await waitFor('both long tasks run', () => (alive(remoteTag) && alive(nodeTag)) || undefined, { timeoutMs: 60_000 }).catch(async (err) => {
    throw new Error(`${(err as Error).message}: remote ${alive(remoteTag)}, node ${alive(nodeTag)}; tasks ${JSON.stringify(await sql(a, 'select id, status, agent_id, reason, attempt from omoi_task where ticket_id = ?', [ticketId]))}; agents ${JSON.stringify(await sql(a, 'select id, status, capabilities, running from omoi_agent'))}`);
  });
  t.equal((await taskRows(a, ticketId)).N!.agent_id, `local-${bNode}`, "N runs on node b's own agent");

  const cancelled = Date.now();
  for (const id of ['R', 'N']) await nc.publish('omoi.in.task.cancel', JSON.stringify({ ticket_id: ticketId, task_id: id, reason: 'not needed' }));
  await waitFor('both commands are gone', () => (!alive(remoteTag) && !alive(nodeTag)) || undefined, { timeoutMs: 20_000 }).catch(async (err) => {
    throw new Error(`${(err as Error).message}: remote ${alive(remoteTag) ? 'runs' : 'gone'}, node ${alive(nodeTag) ? 'runs' : 'gone'}; stops ${agent.stops}; tasks ${JSON.stringify(await taskRows(a, ticketId))}; outbox ${JSON.stringify(await sql(a, 'select subject, message_id from omoi_outbox'))}`);
  });
  t.ok(Date.now() - cancelled < 20_000, 'stopped at once, not at their 10-minute timeouts');
  t.same(agent.stops, [`${ticketId}/R/1`], 'the remote agent was told to stop the attempt, and only that one');
  const rows = await taskRows(a, ticketId);
  t.same([rows.R!.status, rows.N!.status, rows.K!.status], ['cancelled', 'cancelled', 'completed'], 'both cancelled; the other task completed');
  await waitFor('the agents\' slots are free', async () => (await sql<any>(a, 'select running from omoi_agent where id in (?, ?)', [agentId, `local-${bNode}`])).every((r) => r.running.length === 0));
  t.pass('no attempt holds either agent');
  t.match(await sql<any>(a, `select payload from omoi_event where type = 'agent.stopped'`), [{ payload: { agent_id: agentId, task_id: 'R', outcome: 'acknowledged' } }], 'the remote agent acknowledged its stop');
});
