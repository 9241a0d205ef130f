/**
 * The branch of a task. Not `omoi/<ticket>/<task>`: git cannot hold that beside the ticket
 * branch `omoi/<ticket>` (a ref cannot be both a branch and a folder of branches).
 */
export function taskBranch(ticketId: string, taskId: string): string {
  return `omoi-task/${ticketId}/${taskId}`;
}
