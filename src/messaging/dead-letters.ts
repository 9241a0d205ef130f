import type { JetStreamClient } from '@nats-io/jetstream';
import { NotFoundError, ConflictError } from '../errors.ts';
import { DeadLetterEntity, type Database, type DeadLetterRow } from '../persistence/index.ts';
import { encode, makeEnvelope, Subjects, validatePayload } from '../protocol/index.ts';

/**
 * Operator actions on dead letters (`omoi dlq`, HTTP): list, show, retry (publish the original
 * bytes again on the original subject; input goes back through validation), discard. A retry
 * or discard is told as `dead_letter.closed` when NATS is at hand (its `dead_letter` alert
 * resolves once no dead letter of its code is open); `js` is absent for `omoi dlq` actions
 * that need no NATS.
 */
export class DeadLetters {
  constructor(private readonly deps: { db: Database; js?: JetStreamClient; source?: string }) {}

  async list(status = 'open', limit = 100): Promise<DeadLetterRow[]> {
    const where = status === 'all' ? {} : { status: status as DeadLetterRow['status'] };
    return this.deps.db.em().find(DeadLetterEntity, where, { orderBy: { id: 'desc' }, limit });
  }

  async show(id: number): Promise<DeadLetterRow | undefined> {
    return (await this.deps.db.em().findOne(DeadLetterEntity, { id })) ?? undefined;
  }

  async retry(id: number): Promise<void> {
    const row = await this.open(id);
    if (!this.deps.js) throw new Error('dead letter retry needs NATS');
    const msgId = `${row.message_id ?? 'dead-letter'}:retry:${id}`;
    await this.deps.js.publish(row.subject, row.body, { msgID: msgId });
    await this.resolve(row, 'retried');
  }

  async discard(id: number): Promise<void> {
    await this.resolve(await this.open(id), 'discarded');
  }

  private async open(id: number): Promise<DeadLetterRow> {
    const row = await this.show(id);
    if (!row) throw new NotFoundError('dead letter', String(id));
    if (row.status !== 'open') throw new ConflictError('dead_letter_closed', `dead letter ${id} is already ${row.status}`);
    return row;
  }

  private async resolve(row: DeadLetterRow, status: 'retried' | 'discarded'): Promise<void> {
    const em = this.deps.db.em();
    await em.nativeUpdate(DeadLetterEntity, { id: row.id }, { status, resolved_at: new Date() });
    if (!this.deps.js) return;
    const open = await em.count(DeadLetterEntity, { code: row.code, status: 'open' });
    const env = makeEnvelope('dead_letter.closed', validatePayload('dead_letter.closed', { dead_letter_id: row.id, code: row.code, status, open_with_code: open }), { source: this.deps.source ?? 'omoi', id: `dead-letter-closed-${row.id}` });
    // Best effort: the row is the record; a lost event leaves the alert for a person to resolve.
    await this.deps.js.publish(Subjects.event('dead_letter.closed'), encode(env), { msgID: env.id }).catch(() => undefined);
  }
}
