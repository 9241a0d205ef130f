import t from 'tap';
import { checkGate, describeFindings } from '../../src/spec/gates/gate.ts';

const requirements = {
  requirements: [
    { id: 'REQ-1', title: 'one', acceptance: ['WHEN a user exports THE SYSTEM SHALL write a CSV file'] },
    { id: 'REQ-2', title: 'two', acceptance: ['THE SYSTEM SHALL keep the header row'] },
  ],
};
const task = (id: string, more: Record<string, unknown> = {}) => ({ id, run: 'true', requirements: ['REQ-1'], ...more });

t.test('no artifact, or one that breaks its schema, is not met; the findings name the fields', async (t) => {
  t.same(checkGate('EXPLORE', null, {}).findings.map((f) => f.code), ['artifact_missing']);
  const bad = checkGate('REQUIREMENTS', { requirements: [{ id: 'REQ-1', title: 'x', acceptance: ['the system should work'] }] }, {});
  t.equal(bad.passed, false);
  t.match(bad.findings[0], { code: 'schema_violation', path: '/requirements/0/acceptance/0' }, 'an acceptance criterion not in EARS form');
  t.match(describeFindings(bad.findings), /^schema_violation: \/requirements\/0\/acceptance\/0/);
  t.equal(checkGate('REQUIREMENTS', requirements, {}).passed, true, 'EARS criteria pass');
  t.equal(checkGate('DESIGN', { summary: 's', components: [] }, {}).passed, false, 'a design needs a component');
});

t.test('TASKS: the DAG checks of ticket.create, and every requirement served by a task', async (t) => {
  const earlier = { REQUIREMENTS: requirements };
  t.same(checkGate('TASKS', { tasks: [task('A'), task('B', { depends_on: ['A'], requirements: ['REQ-2'] })] }, earlier), { passed: true, findings: [] });
  const cycle = checkGate('TASKS', { tasks: [task('A', { depends_on: ['B'] }), task('B', { depends_on: ['A'], requirements: ['REQ-2'] })] }, earlier);
  t.equal(cycle.findings[0]!.code, 'cycle');
  t.match(cycle.findings[0]!.message, /A → B → A/, 'the cycle is named');
  t.equal(checkGate('TASKS', { tasks: [task('A', { depends_on: ['Z'] })] }, earlier).findings[0]!.code, 'unknown_dependency');
  const uncovered = checkGate('TASKS', { tasks: [task('A')] }, earlier);
  t.same(uncovered.findings.map((f) => [f.code, f.path]), [['requirement_not_covered', 'REQ-2']]);
  const unknown = checkGate('TASKS', { tasks: [task('A', { requirements: ['REQ-1', 'REQ-2', 'REQ-9'] })] }, earlier);
  t.same(unknown.findings.map((f) => [f.code, f.path]), [['unknown_requirement', 'A/REQ-9']]);
  t.equal(checkGate('TASKS', { tasks: [{ id: 'A', run: 'true' }] }, earlier).findings[0]!.code, 'schema_violation', 'a task must say which requirements it serves');
});

t.test('TASKS: a task\'s acceptance ids name criteria of the requirements (<requirement>.<n>)', async (t) => {
  const earlier = { REQUIREMENTS: requirements };
  const mapped = checkGate('TASKS', { tasks: [task('A', { check: 'test -f out.csv', acceptance: ['REQ-1.1'] }), task('B', { requirements: ['REQ-2'], acceptance: ['REQ-2.1'] })] }, earlier);
  t.same(mapped, { passed: true, findings: [] });
  const unknown = checkGate('TASKS', { tasks: [task('A', { acceptance: ['REQ-1.2', 'REQ-9.1'] }), task('B', { requirements: ['REQ-2'] })] }, earlier);
  t.same(unknown.findings.map((f) => [f.code, f.path]), [['unknown_acceptance', 'A/REQ-1.2'], ['unknown_acceptance', 'A/REQ-9.1']], 'REQ-1 has one criterion; REQ-9 none');
});
