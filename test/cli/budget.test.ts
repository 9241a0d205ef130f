import t from 'tap';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { task, ticketRow, waitTicket } from '../flow/helpers.ts';
import { runOmoi } from './run-omoi.ts';

t.test('omoi budget set/show and the spend line of omoi status, against a running node', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const env = { OMOI_API_TOKEN: node.apiToken };
  const url = ['--url', node.httpUrl];
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const usage = JSON.stringify({ usage: { cost_usd: 0.75, input_tokens: 10, output_tokens: 4 } });
  await node.submit('ticket.create', {
    ticket_id: 'T-cli', title: 'cli', repository: repo.dir, budget: { cost_usd: 0.5 },
    tasks: [task('A', `printf '%s' '${usage}' > "$OMOI_RESULT_FILE"`), task('B', 'true', { depends_on: ['A'] })],
  });
  await waitFor('T-cli over budget', async () => (await ticketRow(node, 'T-cli'))?.budget_exceeded || undefined);

  const shown = await runOmoi(['budget', 'show', '--ticket', 'T-cli', ...url], env);
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, /^ticket T-cli: OVER BUDGET/m);
  t.match(shown.stdout, /^cost\s+\$0\.75 of \$0\.50 \(150 %\)$/m);
  t.match(shown.stdout, /^tokens\s+10 in \/ 4 out · 1 attempts reported$/m);

  const status = await runOmoi(['status', ...url], env);
  t.match(status.stdout, /^spend\s+\$0\.75 · [\d.]+s of attempts · over budget: T-cli$/m, 'omoi status names the ticket over budget');

  const set = await runOmoi(['budget', 'set', '--ticket', 'T-cli', '--cost-usd', '5', '--wall-ms', '600000', ...url], env);
  t.equal(set.code, 0, set.stderr);
  t.match(set.stdout, /budget change for ticket T-cli accepted/);
  const done = await waitTicket(node, 'T-cli', 'completed');
  t.match(done.budget, { cost_usd: 5, wall_ms: 600000 }, 'the raise reached the ticket, which then completed');

  const json = JSON.parse((await runOmoi(['budget', 'show', '--ticket', 'T-cli', '--json', ...url], env)).stdout);
  t.match(json, { scope: 'ticket', id: 'T-cli', budget: { cost_usd: 5 }, spend: { cost_usd: 0.75 }, exceeded: false });

  const agent = await runOmoi(['budget', 'show', '--agent', `local-${node.config.nodeId}`, ...url], env);
  t.equal(agent.code, 0, agent.stderr);
  t.match(agent.stdout, /^agent local-\S+: within budget$/m);
  t.match(agent.stdout, /^cost\s+\$0\.75 \(no limit\)$/m, 'the agent\'s spend');

  const both = await runOmoi(['budget', 'set', '--ticket', 'T-cli', '--agent', 'a', '--cost-usd', '1', ...url], env);
  t.equal(both.code, 1);
  t.match(both.stderr, /exactly one of --ticket <id> or --agent <id>/);
  const nothing = await runOmoi(['budget', 'set', '--ticket', 'T-cli', ...url], env);
  t.match(nothing.stderr, /nothing to change/);
  const negative = await runOmoi(['budget', 'set', '--ticket', 'T-cli', '--cost-usd', '-2', ...url], env);
  t.equal(negative.code, 2, 'a usage error');
  t.match(negative.stderr, /--cost-usd must be a number above 0/);
  const unknown = await runOmoi(['budget', 'show', '--agent', 'nobody', ...url], env);
  t.match(unknown.stderr, /no agent "nobody" \[not_found\]/);
});
