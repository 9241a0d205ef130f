// A running task's own API: discovery (add, split) and progress from inside its sandbox.
export { awaitOutcome, postgresOutcomes, type CommandOutcome, type CommandOutcomes } from './command-outcome.ts';
export { TASK_CLI, TaskApi, TaskApiEnv, type OpenTaskApi, type TaskApiFactory } from './task-api.ts';
export { TASK_ENDPOINTS, toCommand, type AttemptRef, type TaskEndpoint } from './task-requests.ts';
