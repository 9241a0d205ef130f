import { CircuitOpenError, type Breakers } from '../../breakers/breakers.ts';
import { errorMessage, OmoiError } from '../../errors.ts';
import type { Logger } from '../../logging/logger.ts';
import type { AlertRoute } from '../alerts-config.ts';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
import { RouteRejectedError, RouteUnavailableError } from './delivery-errors.ts';
import type { DeliveryOutcome } from './delivery-status.ts';
import type { DeliveryStore, DueDelivery, RecordedError } from './delivery-store.ts';
import { sendGuarded } from './route-sender.ts';

export interface DispatcherOptions {
  store: DeliveryStore;
  breakers: Breakers;
  log: Logger;
  /** The configured routes (`alerts.routes`), read for every delivery. */
  routes: () => Record<string, AlertRoute>;
  /** Attempts before a delivery fails for good (`OMOI_ALERT_DELIVERY_MAX_ATTEMPTS`). */
  maxAttempts: number;
  /** Counts each go at a delivery (`omoi_alert_deliveries_total`). */
  count?: (routeType: string, outcome: DeliveryOutcome) => void;
  /** The dashboard's address for links, when known. */
  dashboardUrl?: () => string | undefined;
  /** One attempt's bound, ms (default 10000). */
  timeoutMs?: number;
  /** How often due deliveries are looked for when nothing wakes the dispatcher, ms (default 1000). */
  pollMs?: number;
  /** Deliveries taken at once (default 16). */
  batch?: number;
  backoff?: BackoffOptions;
  /** How long a delivery whose breaker is open waits before it is looked at again, ms (default 5000). */
  circuitRetryMs?: number;
  /** Where `{ env }` secrets are read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  random?: () => number;
}

/**
 * Delivers due alert deliveries; one runs on every node, and they share the work through the
 * database. Invariants:
 * 1. A delivery is taken by one dispatcher at a time (`claimDue`: `for update skip locked`,
 *    then held for three timeouts and a margin); a node that dies holding one leaves it due
 *    again after the hold (delivery is at least once; `Omoi-Delivery` lets receivers drop repeats).
 * 2. Every attempt is bounded by `timeoutMs` and runs behind its route's breaker. An open breaker
 *    defers the delivery by `circuitRetryMs` with `circuit_open`, not counted as an attempt.
 * 3. A refusal (`RouteRejectedError`) fails the delivery at once; any other failure retries it
 *    with backoff until `maxAttempts` attempts were made, then fails it.
 * 4. Nothing here runs in an actor or a partition transaction; errors (database down) are
 *    logged and the loop goes on.
 * 5. `stop()` aborts attempts in flight and records nothing for them (their hold expires and
 *    they are tried again).
 */
export class DeliveryDispatcher {
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private woken = false;
  private readonly timeoutMs: number;

  constructor(private readonly opts: DispatcherOptions) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  start(): void {
    this.loop ??= this.run().catch((err) => this.opts.log.error({ err: errorMessage(err) }, 'alert delivery dispatcher ended'));
  }

  /** Looks for due deliveries now (new rows were recorded). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.wakeUp?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const holdMs = 3 * this.timeoutMs + 5_000;
    while (!this.stopping.signal.aborted) {
      this.woken = false;
      let due: DueDelivery[] = [];
      try {
        due = await this.opts.store.claimDue(this.opts.batch ?? 16, holdMs);
      } catch (err) {
        this.opts.log.warn({ err: errorMessage(err) }, 'could not take due alert deliveries');
      }
      if (due.length > 0) {
        await Promise.all(due.map((d) => this.deliver(d)));
        continue;
      }
      if (!this.woken) await this.idle(this.opts.pollMs ?? 1_000);
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private async deliver(d: DueDelivery): Promise<void> {
    const route = this.opts.routes()[d.route];
    const log = this.opts.log.child({ delivery: d.id, alert: d.alert_id, route: d.route });
    try {
      if (!route) {
        await this.opts.store.failed(d, { code: 'route_unknown', message: `no route named ${JSON.stringify(d.route)} in alerts.routes` }, false);
        this.opts.count?.(d.route_type, 'failed');
        log.warn('alert delivery failed: its route is no longer configured');
        return;
      }
      const outcome = await this.attempt(d, route);
      this.opts.count?.(route.type, outcome.outcome);
      if (outcome.outcome === 'delivered') log.info({ type: route.type, attempts: d.attempts + 1 }, 'alert delivered');
      else if (outcome.outcome !== 'deferred') log.warn({ type: route.type, code: outcome.error?.code, err: outcome.error?.message, attempts: d.attempts + 1 }, outcome.outcome === 'failed' ? 'alert delivery failed for good' : 'alert delivery failed: retrying');
    } catch (err) {
      // A write failed (database down): the hold expires and the delivery is due again.
      if (!this.stopping.signal.aborted) log.warn({ err: errorMessage(err) }, 'could not record an alert delivery\'s outcome');
    }
  }

  private async attempt(d: DueDelivery, route: AlertRoute): Promise<{ outcome: DeliveryOutcome; error?: RecordedError }> {
    const store = this.opts.store;
    try {
      const reply = await sendGuarded(this.opts.breakers, route, {
        routeName: d.route, deliveryId: d.id, notification: d.payload, status: 'raised',
        dashboardUrl: this.opts.dashboardUrl?.(), timeoutMs: this.timeoutMs, signal: this.stopping.signal, env: this.opts.env,
      });
      await store.delivered(d, reply);
      return { outcome: 'delivered' };
    } catch (err) {
      if (this.stopping.signal.aborted) throw err;
      const error: RecordedError = {
        code: err instanceof OmoiError ? err.code : 'route_unavailable',
        message: errorMessage(err),
        reply: err instanceof RouteUnavailableError || err instanceof RouteRejectedError ? err.reply : undefined,
      };
      if (err instanceof CircuitOpenError) {
        await store.deferred(d, error, this.opts.circuitRetryMs ?? 5_000);
        return { outcome: 'deferred', error };
      }
      const attempts = d.attempts + 1;
      if (err instanceof RouteRejectedError || attempts >= this.opts.maxAttempts) {
        await store.failed(d, error);
        return { outcome: 'failed', error };
      }
      await store.retryLater(d, error, backoffDelay(attempts, this.opts.backoff ?? DEFAULT_BACKOFF, this.opts.random));
      return { outcome: 'retry', error };
    }
  }
}
