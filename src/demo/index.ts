// The demo of `omoi start --demo`: a sample repository, a ticket whose DAG splits, joins and
// merges (one merge conflict resolved by a resolver command), narrated from the event stream;
// and the spec demo of `omoi start --spec-demo`: a goal planned into that kind of ticket and delivered.
export { runDemo, type DemoOptions, type DemoOutcome, type DemoStatus } from './run-demo.ts';
export { demoTicket, demoTicketId, defaultResolverCommand, RESOLVER_SCRIPT, type DemoTicket, type DemoTask } from './demo-ticket.ts';
export { ensureSampleRepo, sampleFiles, CONFLICT_LINE, FEATURES_LINE, type SampleRepo } from './sample-repo.ts';
export { describeEvent, elapsed, type DemoEvent, type ProgressContext } from './progress.ts';
export { demoPlannerCommand, SPEC_PLANNER_SCRIPT } from './spec-planner.ts';
export { runSpecDemo, SPEC_DEMO_GOAL, type SpecDemoOptions, type SpecDemoOutcome, type SpecDemoStatus } from './run-spec-demo.ts';
