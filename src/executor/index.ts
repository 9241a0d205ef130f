// The local agent that runs tasks on this node, and the node's timers over its partitions.
export { commandPublisher, encodeCommand, type PublishCommand } from './command-publisher.ts';
export { effectPublisher } from './effect-publisher.ts';
export { LocalExecutor } from './local-executor.ts';
export { NodeSupervisor, type HeldPartitions } from './node-supervisor.ts';
export { TaskOutput, OUTPUT_LIMITS, type AttemptRef, type OutputMessage, type OutputTail } from './task-output.ts';
