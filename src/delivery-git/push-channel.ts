import path from 'node:path';
import type { Breakers } from '../breakers/index.ts';
import type { AttemptContext, DeliveryChannel } from '../delivery/dispatcher.ts';
import type { RouteReply } from '../delivery/delivery-errors.ts';
import type { DeliveryOutcome } from '../delivery/delivery-status.ts';
import type { PublishCommand } from '../executor/command-publisher.ts';
import { ticketRepoDir, type CommitStore } from '../git/index.ts';
import { remoteKey } from '../git/remote-breakers.ts';
import type { PayloadOf } from '../protocol/index.ts';
import { PushFailedError, pushHead } from './git-push.ts';
import { runPullRequestCommand } from './pull-request.ts';
import type { DuePush, PushStore, SettledPush } from './push-store.ts';

/**
 * Ticket pushes as the shared dispatcher delivers them. One attempt: the head is fetched into
 * this node's clone of the ticket's repository (it may have been made on another node), pushed
 * behind the remote's `git_remote` breaker (key `push <remote>`), then the pull request command runs once per push
 * (its outcome kept on the row, so a retried or redelivered push never opens a second one).
 * Its end is reported to the ticket (`ticket.delivery_report`, id `delivery-report:<ticket>:<round>`).
 */
export function pushChannel(deps: {
  dataDir: string; commits: CommitStore; breakers: Breakers; store: PushStore; publish: PublishCommand;
  /** Counts each go at a push (`omoi_ticket_pushes_total{outcome}`). */
  count?: (outcome: DeliveryOutcome) => void;
}): DeliveryChannel<DuePush> {
  return {
    noun: 'ticket push',
    logFields: (d) => ({ ticket: d.ticket_id, round: d.round }),
    count: (_d, outcome) => deps.count?.(outcome),
    async send(d: DuePush, ctx: AttemptContext): Promise<RouteReply> {
      const order = d.payload;
      await deps.commits.ensureRetrying(d.ticket_id, order.repository, [d.head], { signal: ctx.signal });
      const repoDir = ticketRepoDir(deps.dataDir, d.ticket_id);
      // Its own key: a remote that refuses pushes (no write access) must not stop fetches from it.
      await deps.breakers.run('git_remote', `push ${remoteKey(order.remote)}`, () => pushHead(repoDir, order.remote, d.head, order.branch, ctx.timeoutMs), (err) => err instanceof PushFailedError);
      if (order.pull_request_command && !d.pull_request_done) {
        const outcome = await runPullRequestCommand(order, repoDir, path.join(deps.dataDir, 'delivery'), ctx.timeoutMs, ctx.signal);
        if (ctx.signal.aborted) throw new PushFailedError('push_aborted', 'the node is stopping');
        await deps.store.recordPullRequest(d.id, outcome);
      }
      return { answer: `pushed ${d.head} to ${order.branch}` };
    },
    async settled(d: DuePush): Promise<void> {
      const row = await deps.store.settled(d.id);
      if (row) await reportPush(deps.publish, row);
    },
  };
}

/** Tells the ticket how its push ended (deduplicated by its id: sent again after a lost report, it changes nothing). */
export async function reportPush(publish: PublishCommand, row: SettledPush): Promise<void> {
  const report: PayloadOf<'ticket.delivery_report'> = {
    ticket_id: row.ticket_id, round: row.round, outcome: row.status, commit: row.head, attempts: row.attempts,
    ...(row.status === 'failed' ? { error: (row.last_error ?? 'push failed').slice(0, 20_000) } : {}),
    ...(row.pull_request_url ? { pull_request_url: row.pull_request_url.slice(0, 2000) } : {}),
    ...(row.pull_request_error ? { pull_request_error: row.pull_request_error.slice(0, 20_000) } : {}),
  };
  await publish('ticket.delivery_report', report, `delivery-report:${row.ticket_id}:${row.round}`);
}
