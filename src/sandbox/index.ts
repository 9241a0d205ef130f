// Task sandboxes (git repositories of their own) and the executors that run tasks in them.
export { SandboxManager, type Sandbox } from './manager.ts';
export { SandboxPool, type SandboxPoolOptions, type SandboxPoolStats } from './pool.ts';
export { runProcess, type ProcessOutcome, type RunProcessOptions } from './process.ts';
export { ownershipViolations } from './ownership.ts';
export { executeTask, fillTemplate, taskLogFile, type ExecutableTask, type ExecuteOptions, type ExecutionResult } from './execute.ts';
export { runTaskCheck, type CheckOutcome, type TaskCheckOptions } from './task-check.ts';
export { INHERITED_ENV } from './child-env.ts';
export { decideIsolation, isolationPrefix, type Isolation, type IsolationMode, type CommandView } from './isolation.ts';
