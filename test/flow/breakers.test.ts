import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { runStatus } from '../../src/cli/commands/status.ts';
import { freePort, makeRepo, tempDir, waitFor, type TestContext } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { events, sql, task, waitTicket } from './helpers.ts';

// A dead git remote opens its breaker: clones fail a few times, then tickets on it wait
// (`circuit_open`, retried, never failed) without the remote being called; once the remote is
// back, the half-open trial succeeds, the breaker closes and the tickets complete.

/**
 * A git remote on a fixed port: `broken` answers every connection with garbage (a daemon that
 * is up but broken: git fails with a protocol error), `up` forwards to a real `git daemon`.
 * Counts the connections, so a test can tell whether git was called at all.
 */
async function flakyRemote(t: TestContext, root: string) {
  const daemonPort = await freePort();
  const daemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${root}`, '--listen=127.0.0.1', `--port=${daemonPort}`, root], { stdio: 'ignore' });
  t.teardown(() => void daemon.kill('SIGKILL'));
  let mode: 'broken' | 'up' = 'broken';
  let connections = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((c) => {
    connections++;
    open.add(c);
    c.on('close', () => open.delete(c));
    c.on('error', () => undefined);
    if (mode === 'broken') return void c.end('zzzz not a git daemon\n');
    const upstream = net.connect(daemonPort, '127.0.0.1');
    upstream.on('error', () => c.destroy());
    c.pipe(upstream).pipe(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // close() waits for every connection to end: a git client still connected must not hold the teardown.
  t.teardown(() => new Promise<void>((r) => { server.close(() => r()); for (const c of open) c.destroy(); }));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: (name: string) => `git://127.0.0.1:${port}/${name}`,
    connections: () => connections,
    setMode: (m: 'broken' | 'up') => { mode = m; },
  };
}


t.test('a dead git remote opens its breaker; tickets wait without calling it; it closes when the remote returns', async (t) => {
  const root = await tempDir(t, 'omoi-breakers-');
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  // The daemon serves <root>/app.git: a bare copy of the test repository.
  await new Promise<void>((resolve, reject) => spawn('git', ['clone', '--quiet', '--bare', repo.dir, path.join(root, 'app.git')]).on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`clone ${c}`)))));
  const remote = await flakyRemote(t, root);
  const url = remote.url('app.git');
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { breakerThreshold: 2, breakerHalfOpenMs: 4_000 });
  const client = await withClient(t, cluster);
  const seen: Array<{ payload: any }> = [];
  client.subscribe('omoi.evt.breaker.state', { callback: (_e, m) => { seen.push(m.json()); } });
  const breakerEvents = async () => seen;

  await node.submit('ticket.create', { ticket_id: 'T-dead-1', title: 'dead remote', repository: url, ownership: 'lenient', tasks: [task('A', 'echo a > a.txt')] });
  const opened = await waitFor('the git_remote breaker opens', async () => (await breakerEvents()).find((e) => e.payload.state === 'open'));
  t.match(opened.payload, { node_id: node.config.nodeId, breaker: 'git_remote', key: url, state: 'open' }, 'breaker.state open, keyed by the remote URL');
  t.match(opened.payload.reason, /repository_fetch_failed|cannot fetch/, 'with the failure that opened it');
  const callsWhenOpened = remote.connections();
  t.equal(callsWhenOpened, 2, 'opened after the threshold (2) of failed clones');

  // While open: another ticket on the remote waits, the remote is not called.
  await node.submit('ticket.create', { ticket_id: 'T-dead-2', title: 'dead remote too', repository: url, ownership: 'lenient', tasks: [task('A', 'echo b > b.txt')] });
  await new Promise((r) => setTimeout(r, 2_500));
  t.equal(remote.connections(), callsWhenOpened, 'no clone attempt while the breaker is open');
  t.same(await sql(node, `select id from omoi_ticket where id like 'T-dead-%'`), [], 'no ticket was created, none failed');
  t.same(await sql(node, `select id from omoi_dead_letter`), [], 'and nothing was dead-lettered: the messages wait');

  // Visible: /metrics, the API, omoi status.
  const metrics = await (await fetch(`${node.httpUrl}/metrics`)).text();
  t.match(metrics, /omoi_breaker_open\{breaker="git_remote"\} 1/, 'the open gauge, labelled by breaker name only');
  t.match(metrics, /omoi_breaker_transitions_total\{breaker="git_remote",state="open"\} 1/);
  t.notMatch(metrics, /omoi_breaker_open\{[^}]*127\.0\.0\.1/, 'the key is no label');
  const api = await (await fetch(`${node.httpUrl}/api/breakers`, { headers: { authorization: `Bearer ${node.apiToken}` } })).json() as any;
  t.match(api, { node_id: node.config.nodeId, breakers: [{ breaker: 'git_remote', key: url, state: 'open' }] });
  process.env.OMOI_API_TOKEN = node.apiToken;
  t.teardown(() => { delete process.env.OMOI_API_TOKEN; });
  const status = await runStatus({ url: node.httpUrl });
  t.match(status.report, new RegExp(`breakers +git_remote ${url.replace(/[.]/g, '\\.')} OPEN`), 'omoi status shows the open breaker');

  // The remote returns: the half-open trial clones, the breaker closes, both tickets complete.
  remote.setMode('up');
  await waitTicket(node, 'T-dead-1', 'completed', 90_000);
  await waitTicket(node, 'T-dead-2', 'completed', 90_000);
  const states = (await breakerEvents()).map((e) => e.payload.state);
  t.same(states.slice(-2), ['half_open', 'closed'], 'half-opened for a trial, then closed');
  t.match(await (await fetch(`${node.httpUrl}/metrics`)).text(), /omoi_breaker_open\{breaker="git_remote"\} 0/);
  t.match((await runStatus({ url: node.httpUrl })).report, /breakers +all closed/);
});

t.test('an agent command that keeps failing at once opens its breaker: further agent tasks fail retryably without starting it', async (t) => {
  const root = await tempDir(t, 'omoi-agent-breaker-');
  const runs = path.join(root, 'runs');
  const script = path.join(root, 'broken-agent.sh');
  writeFileSync(script, `#!/bin/sh\necho ran >> ${runs}\necho "no API key" >&2\nexit 3\n`, { mode: 0o755 });
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { agentCommand: `${script} --prompt {prompt_file}`, breakerThreshold: 2, breakerHalfOpenMs: 600_000 });
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  // A plain command task failing at once is its own failure: it never counts.
  await node.submit('ticket.create', { ticket_id: 'T-cmd', title: 'failing command', repository: repo.dir, tasks: [task('A', 'exit 1', { max_retries: 0 })] });
  await waitTicket(node, 'T-cmd', 'failed');
  const agentBreakers = () => node.breakers.states().filter((b) => b.breaker === 'agent_command');
  t.same(agentBreakers(), [], 'a failing task command touches no breaker');

  await node.submit('ticket.create', { ticket_id: 'T-agent', title: 'broken agent', repository: repo.dir, tasks: [task('A', 'Write a haiku.', { kind: 'agent', max_retries: 3 })] });
  await waitTicket(node, 'T-agent', 'failed', 60_000);
  t.match(agentBreakers(), [{ breaker: 'agent_command', key: script, state: 'open', last_failure: /exited with 3 within 2000 ms: no API key/ }], 'opened, keyed by the agent command\'s program, with its failure');
  t.equal(readFileSync(runs, 'utf8').trim().split('\n').length, 2, 'the agent command ran twice (the threshold), never again');
  const reasons = (await events(node, 'T-agent', 'task.status')).map((e) => e.payload.reason ?? '').filter((r: string) => /circuit_open/.test(r));
  t.ok(reasons.length >= 1, 'later attempts failed with circuit_open');
  t.match(reasons.at(-1), /agent_command .*broken-agent\.sh is failing \(exited with 3/, 'with a message naming the breaker and its failure');
});
