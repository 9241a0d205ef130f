import type { JetStreamClient } from '@nats-io/jetstream';
import { NotFoundError, ConflictError } from '../errors.ts';
import { DeadLetterEntity, type Database, type DeadLetterRow } from '../persistence/index.ts';

/**
 * Operator actions on dead letters (`omoi dlq`, HTTP): list, show, retry (publish the original
 * bytes again on the original subject; input goes back through validation), discard.
 */
export class DeadLetters {
  constructor(private readonly deps: { db: Database; js: JetStreamClient }) {}

  async list(status = 'open', limit = 100): Promise<DeadLetterRow[]> {
    const where = status === 'all' ? {} : { status: status as DeadLetterRow['status'] };
    return this.deps.db.em().find(DeadLetterEntity, where, { orderBy: { id: 'desc' }, limit });
  }

  async show(id: number): Promise<DeadLetterRow | undefined> {
    return (await this.deps.db.em().findOne(DeadLetterEntity, { id })) ?? undefined;
  }

  async retry(id: number): Promise<void> {
    const row = await this.open(id);
    const msgId = `${row.message_id ?? 'dead-letter'}:retry:${id}`;
    await this.deps.js.publish(row.subject, row.body, { msgID: msgId });
    await this.resolve(id, 'retried');
  }

  async discard(id: number): Promise<void> {
    await this.open(id);
    await this.resolve(id, 'discarded');
  }

  private async open(id: number): Promise<DeadLetterRow> {
    const row = await this.show(id);
    if (!row) throw new NotFoundError('dead letter', String(id));
    if (row.status !== 'open') throw new ConflictError('dead_letter_closed', `dead letter ${id} is already ${row.status}`);
    return row;
  }

  private async resolve(id: number, status: 'retried' | 'discarded'): Promise<void> {
    await this.deps.db.em().nativeUpdate(DeadLetterEntity, { id }, { status, resolved_at: new Date() });
  }
}
