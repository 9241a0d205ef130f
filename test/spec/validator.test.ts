import t from 'tap';
import { demoPlannerCommand } from '../../src/demo/index.ts';
import { shellQuote } from '../../src/demo/demo-ticket.ts';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { sql } from '../flow/helpers.ts';
import { specCreate } from '../../src/cli/commands/spec.ts';

const cluster = await withCluster(t);
const node = await withNode(t, cluster);

// A validator of the person's own: it refuses the first REQUIREMENTS artifact (its run had no
// findings yet) and, otherwise, accepts any artifact that is a JSON object.
const VALIDATOR_JS = `
const task = require(process.env.OMOI_TASK_FILE);
const first = task.task.run.includes('"findings":[]');
if (process.env.OMOI_SPEC_PHASE === 'REQUIREMENTS' && first) { console.log('REQ-1 must name the CSV header'); process.exit(1); }
const artifact = JSON.parse(require('fs').readFileSync(process.env.OMOI_RESULT_FILE, 'utf8'));
process.exit(artifact && typeof artifact === 'object' ? 0 : 2);
`;

const artifacts = (id: string) => sql<Record<string, any>>(node, 'select phase, version, gate from omoi_spec_artifact where spec_id = ? order by created_at, phase, version', [id]);

t.test('a spec\'s validator command refuses an artifact: the phase runs again with its output as a finding, then the spec completes', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  await node.submit('spec.create', {
    spec_id: 'SV1', repository: repo.dir, base_branch: 'main', goal: 'Write the goal down', planner: 'command', planner_command: demoPlannerCommand(),
    validator_command: `node -e ${shellQuote(VALIDATOR_JS)}`,
  });
  const spec = await waitFor('SV1 completed', async () => {
    const row = (await sql<any>(node, 'select * from omoi_spec where id = ?', ['SV1']))[0];
    if (row && ['failed', 'blocked'].includes(row.status)) throw new Error(`SV1 is ${row.status}: ${row.reason}`);
    return row?.status === 'completed' ? row : undefined;
  }, { timeoutMs: 180_000 });
  t.equal(spec.validator_command.startsWith('node -e'), true, 'stored with the spec');
  const stored = await artifacts('SV1');
  t.same(stored.map((a) => [a.phase, a.version, a.gate.passed]), [
    ['EXPLORE', 1, true], ['REQUIREMENTS', 1, false], ['REQUIREMENTS', 2, true], ['DESIGN', 1, true], ['TASKS', 1, true],
  ], 'the validator ran on every phase and refused only the first REQUIREMENTS artifact');
  const refused = stored[1]!.gate.findings;
  t.equal(refused[0].code, 'validator_failed');
  t.match(refused[0].message, /the validator refused the REQUIREMENTS artifact: .*REQ-1 must name the CSV header/s, 'the finding carries the validator\'s output');
  const [rerun] = await sql<any>(node, `select spec from omoi_task where ticket_id = 'spec-SV1-requirements-v2'`);
  t.match(rerun.spec.run, /validator_failed/, 'the next run was given the finding');
  t.match(rerun.spec.check, /^export OMOI_SPEC_PHASE=REQUIREMENTS; node -e /, 'the validator is the planning task\'s check');
});

t.test('a blank validator command is refused at spec.create with the field named', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  await t.rejects(node.submit('spec.create', { spec_id: 'SV2', repository: repo.dir, base_branch: 'main', goal: 'x', planner: 'command', planner_command: demoPlannerCommand(), validator_command: '   ' }),
    { code: 'schema_violation', message: /\/payload\/validator_command/ });
  t.same(await sql(node, `select id from omoi_spec where id = 'SV2'`), [], 'no spec');
});

t.test('omoi spec create --validator stores the command with the spec', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'shop\n' });
  process.env.OMOI_API_TOKEN = node.apiToken;
  t.teardown(() => { delete process.env.OMOI_API_TOKEN; });
  t.match(await specCreate({ url: node.httpUrl, id: 'SV3', repo: repo.dir, goal: 'Write the goal down', demoPlanner: true, validator: 'test -s "$OMOI_RESULT_FILE"' }), /^spec SV3 accepted/);
  const row = await waitFor('SV3 stored', async () => (await sql<any>(node, 'select validator_command from omoi_spec where id = ?', ['SV3']))[0]);
  t.equal(row.validator_command, 'test -s "$OMOI_RESULT_FILE"');
});
