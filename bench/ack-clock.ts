import type { JsMsg } from '@nats-io/jetstream';

/**
 * Records when messages with chosen ids (their `Nats-Msg-Id` header) are acked, by wrapping
 * `ack()` on the prototype of JetStream messages. The partition worker acks a command only
 * after its transaction committed and its outbox was published, so the ack time is the
 * "handled" time of the end-to-end measurement, measured in this process without touching
 * the node's code. Lifetime: `install` once (needs one received message to find the
 * prototype), `uninstall` restores the original method.
 */
export class AckClock {
  private readonly watched = new Map<string, number>();
  private proto?: { ack: JsMsg['ack'] };
  private original?: JsMsg['ack'];

  install(sample: JsMsg): void {
    if (this.proto) return;
    const proto = Object.getPrototypeOf(sample) as { ack: JsMsg['ack'] };
    const original = proto.ack;
    const watched = this.watched;
    proto.ack = function (this: JsMsg) {
      const id = this.headers?.get('Nats-Msg-Id');
      if (id && watched.get(id) === 0) watched.set(id, performance.now());
      return original.call(this);
    };
    this.proto = proto;
    this.original = original;
  }

  /** Start watching `id`; its ack time is recorded once. */
  watch(id: string): void {
    this.watched.set(id, 0);
  }

  /** performance.now() of the ack of `id`, or undefined if not (yet) acked. */
  ackedAt(id: string): number | undefined {
    const t = this.watched.get(id);
    return t ? t : undefined;
  }

  get installed(): boolean {
    return !!this.proto;
  }

  uninstall(): void {
    if (this.proto && this.original) this.proto.ack = this.original;
    this.proto = undefined;
  }
}
