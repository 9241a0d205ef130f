#!/usr/bin/env node
// A deterministic planning agent for specs (no network, no model): reads its phase's context
// from OMOI_SPEC_CONTEXT (src/spec/planning-ticket.ts), looks at the repository (its working
// directory, read only) and writes a valid artifact for the phase to OMOI_RESULT_FILE.
//
// Markers in the goal, for demonstrations and tests of the gates:
//   [invalid-once:PHASE]  the first run of PHASE writes an artifact its gate refuses; a run that
//                         was given findings writes a valid one.
//   [cycle]               the TASKS artifact's DAG has a cycle (A → B → A) on every run.
// The work it plans: for the demo's sample repository, the spec demo's DAG (spec-planner-sample.mjs);
// for any other, task A writes GOAL.md with the goal and task B, after A, writes notes/plan.md.
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isSampleRepo, sampleArtifact } from './spec-planner-sample.mjs';

const ctx = JSON.parse(process.env.OMOI_SPEC_CONTEXT ?? 'null');
if (!ctx || typeof ctx.phase !== 'string') {
  process.stderr.write('spec-planner: OMOI_SPEC_CONTEXT is missing or not a phase context\n');
  process.exit(2);
}
const goal = String(ctx.goal);
const retried = Array.isArray(ctx.findings) && ctx.findings.length > 0;
const invalid = goal.includes(`[invalid-once:${ctx.phase}]`) && !retried;

function files(dir, prefix = '') {
  const out = [];
  // Code-unit order, not localeCompare: the same list under every locale.
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name === '.git') continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...files(path.join(dir, entry.name), rel));
    else out.push(rel);
  }
  return out;
}

/** Single-quotes a word for sh. */
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

function artifact() {
  // The markers are for the gates' tests: they keep the generic plan.
  if (isSampleRepo() && !invalid && !goal.includes('[cycle]')) {
    const planned = sampleArtifact(ctx.phase, goal, files(process.cwd()));
    if (planned) return planned;
  }
  switch (ctx.phase) {
    case 'EXPLORE': {
      const found = files(process.cwd());
      return {
        summary: `The repository has ${found.length} file${found.length === 1 ? "" : "s"}; the goal: ${goal}`,
        files: found,
        findings: [found.length ? `top-level entries: ${[...new Set(found.map((f) => f.split('/')[0]))].join(', ')}` : 'the repository is empty'],
      };
    }
    case 'REQUIREMENTS':
      if (invalid) return { requirements: [{ id: 'REQ-1', title: 'the goal is written down', acceptance: ['the goal should be written down'] }] };
      return {
        requirements: [
          { id: 'REQ-1', title: 'the goal is written down', acceptance: ['WHEN the work ticket runs THE SYSTEM SHALL write the goal to GOAL.md'] },
          { id: 'REQ-2', title: 'the plan is recorded', acceptance: ['WHEN GOAL.md exists THE SYSTEM SHALL write the plan to notes/plan.md'] },
        ],
      };
    case 'DESIGN':
      if (invalid) return { summary: 'no components' };
      return {
        summary: 'Two files, written in order: the goal, then the plan that refers to it.',
        components: [
          { name: 'goal', description: 'GOAL.md holds the goal as given.', files: ['GOAL.md'] },
          { name: 'plan', description: 'notes/plan.md lists the requirements.', files: ['notes/plan.md'] },
        ],
        decisions: ['plain text files; no code changes'],
      };
    case 'TASKS': {
      if (invalid) return { tasks: [] };
      const cycle = goal.includes('[cycle]');
      return {
        ownership: 'strict',
        tasks: [
          { id: 'A', title: 'write the goal', depends_on: cycle ? ['B'] : [], owns: ['GOAL.md'], kind: 'command',
            run: `printf '%s\\n' ${q(goal)} > GOAL.md`, requirements: ['REQ-1'] },
          { id: 'B', title: 'record the plan', depends_on: ['A'], owns: ['notes/**'], kind: 'command',
            run: `test -f GOAL.md && mkdir -p notes && printf '%s\\n' 'REQ-1: GOAL.md' 'REQ-2: notes/plan.md' > notes/plan.md`, requirements: ['REQ-2'] },
        ],
      };
    }
    default:
      process.stderr.write(`spec-planner: unknown phase ${ctx.phase}\n`);
      process.exit(2);
  }
}

writeFileSync(process.env.OMOI_RESULT_FILE, JSON.stringify(artifact(), null, 2));
