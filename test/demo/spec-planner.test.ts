import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ensureSampleRepo, SPEC_PLANNER_SCRIPT } from '../../src/demo/index.ts';
import { checkGate } from '../../src/spec/gates/gate.ts';
import { PLANNING_PHASES, type PlanningPhase } from '../../src/spec/phases.ts';
import { git, tempDir, type TestContext } from '../harness/index.ts';

const run = promisify(execFile);

/** Runs the planner for `phase` in `repo` as a planning ticket would, and returns its artifact. */
async function plan(t: TestContext, repo: string, phase: PlanningPhase, goal: string, artifacts: Record<string, unknown>): Promise<any> {
  const out = path.join(await tempDir(t, 'planner-out'), 'result.json');
  const context = { spec_id: 'S', phase, attempt: 1, goal, repository: repo, base_branch: 'main', instructions: '', artifacts, findings: [] };
  await run(process.execPath, [SPEC_PLANNER_SCRIPT], { cwd: repo, env: { PATH: process.env.PATH, OMOI_SPEC_CONTEXT: JSON.stringify(context), OMOI_RESULT_FILE: out } });
  return JSON.parse(await readFile(out, 'utf8'));
}

/** Every phase in order, each given the artifacts before it (as the SpecActor does). */
async function planAll(t: TestContext, repo: string, goal: string): Promise<Record<string, any>> {
  const artifacts: Record<string, any> = {};
  for (const phase of PLANNING_PHASES) artifacts[phase] = await plan(t, repo, phase, goal, { ...artifacts });
  return artifacts;
}

const GOAL = 'Export orders and search the catalogue';

t.test('the planner is deterministic on the sample repository, and every artifact passes its gate', async (t) => {
  const repo = await ensureSampleRepo(path.join(await tempDir(t, 'planner-repo'), 'sample-repo'));
  const first = await planAll(t, repo.dir, GOAL);
  const again = await planAll(t, repo.dir, GOAL);
  const elsewhere = await planAll(t, (await ensureSampleRepo(path.join(await tempDir(t, 'planner-repo2'), 'sample-repo'))).dir, GOAL);
  t.same(again, first, 'same input, same artifacts');
  t.same(elsewhere, first, 'the same in another copy of the sample repository');
  const earlier: Record<string, unknown> = {};
  for (const phase of PLANNING_PHASES) {
    t.same(checkGate(phase, first[phase], earlier), { passed: true, findings: [] }, `${phase} passes its gate`);
    earlier[phase] = first[phase];
  }
  t.equal(await git(repo.dir, 'status', '--porcelain'), '', 'the planner changed no file');

  // Findings come from the files it read.
  t.same(first.EXPLORE.files, ['.gitignore', 'README.md', 'config.py', 'src/__init__.py', 'src/core.py']);
  t.match(first.EXPLORE.findings.join('\n'), /config\.py: ENABLED_FEATURES = \["core"\]/);
  // Requirements in EARS form, each served by a task.
  const ids = first.REQUIREMENTS.requirements.map((r: any) => r.id);
  t.same(ids, ['REQ-1', 'REQ-2', 'REQ-3', 'REQ-4', 'REQ-5']);
  for (const r of first.REQUIREMENTS.requirements) t.match(r.acceptance[0], /^WHEN .+ THE SYSTEM SHALL .+/);
  t.same([...new Set(first.TASKS.tasks.flatMap((x: any) => x.requirements))].sort(), ids, 'every requirement is covered');
  // The DAG: A splits into B ∥ C, D joins them, E continues after D; each task has a check.
  t.same(first.TASKS.tasks.map((x: any) => [x.id, x.depends_on]), [['A', []], ['B', ['A']], ['C', ['A']], ['D', ['B', 'C']], ['E', ['D']]]);
  for (const x of first.TASKS.tasks) t.match(x.check, /^(test -f|grep -q) /, `${x.id} has a check`);
  t.equal(first.TASKS.ownership, 'strict');

  const other = await planAll(t, repo.dir, 'Another goal');
  t.not(other.TASKS.tasks[4].run, first.TASKS.tasks[4].run, 'the goal is part of the plan');
});

t.test('another repository keeps the generic two-task plan', async (t) => {
  const dir = await tempDir(t, 'planner-other');
  await git(dir, 'init', '--quiet');
  const artifacts = await planAll(t, dir, GOAL);
  t.same(artifacts.TASKS.tasks.map((x: any) => x.id), ['A', 'B']);
  t.match(artifacts.TASKS.tasks[0].run, /GOAL\.md/);
});
