import { EntitySchema } from '@mikro-orm/core';

/**
 * The end of one attempt's output, kept when its command ended (src/executor/task-output.ts):
 * what any node shows once the node that ran it is gone or its data directory deleted. At most
 * `OUTPUT_LIMITS.tailBytes` of text, the node's secrets masked; `size` is the whole log's.
 */
export interface TaskLogRow {
  ticket_id: string; task_id: string; attempt: number; node_id: string;
  size: number; text: string; truncated: boolean; created_at: Date;
}
export const TaskLogEntity = new EntitySchema<TaskLogRow>({
  name: 'TaskLogRow',
  tableName: 'omoi_task_log',
  properties: {
    ticket_id: { type: 'string', primary: true },
    task_id: { type: 'string', primary: true },
    attempt: { type: 'integer', primary: true },
    node_id: { type: 'string' },
    size: { type: 'bigint' },
    text: { type: 'text' },
    truncated: { type: 'boolean' },
    created_at: { type: 'Date', index: true },
  },
});
