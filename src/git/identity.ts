import NodeGit from 'nodegit';
import { TerminalError } from '../errors.ts';

/**
 * Who makes a commit and when. Callers pass a fixed time (e.g. the task's or join's creation
 * time) so that re-running the same commit after a crash yields the same sha.
 */
export interface Identity { name: string; email: string; time: Date }

/**
 * A libgit2 signature for `who`, in UTC (offset 0) so the sha never depends on the node's
 * time zone. Throws `TerminalError` for an empty name/email or an invalid date.
 */
export function toSignature(who: Identity): NodeGit.Signature {
  const ms = who.time instanceof Date ? who.time.getTime() : Number.NaN;
  if (!who.name || !who.email || !Number.isFinite(ms)) {
    throw new TerminalError('invalid_identity', `commit identity needs a name, an email and a valid time (got ${JSON.stringify(who)})`);
  }
  return NodeGit.Signature.create(who.name, who.email, Math.floor(ms / 1000), 0);
}
