import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Breakers } from '../../breakers/breakers.ts';
import type { Logger } from '../../logging/logger.ts';
import type { Metrics } from '../../metrics.ts';
import type { Database } from '../../persistence/index.ts';
import type { AlertsConfig } from '../alerts-config.ts';
import { AlertRaisedConsumer, ensureAlertDeliveryConsumer } from './alert-raised-consumer.ts';
import { DeliveryStore, type DueDelivery } from './delivery-store.ts';
import { DeliveryDispatcher, type DispatcherTuning } from '../../delivery/dispatcher.ts';
import { alertChannel } from './alert-channel.ts';

export interface AlertDeliveryDeps {
  js: JetStreamClient; jsm: JetStreamManager; db: Database; breakers: Breakers; log: Logger; metrics: Metrics;
  config: { alerts: AlertsConfig; ackWaitMs: number; alertDeliveryMaxAttempts: number };
  /** The dashboard's address, linked from e-mail and Slack messages (known once HTTP listens). */
  dashboardUrl?: () => string | undefined;
  /** Tests shorten the dispatcher's timings. */
  tuning?: DispatcherTuning & { env?: NodeJS.ProcessEnv };
}

/**
 * Alert delivery on this node: the shared `alert.raised` consumer that records deliveries, and
 * the dispatcher that delivers them (webhook, Slack, e-mail). `stop()` stops the consumer, then
 * the dispatcher (attempts in flight are aborted and retried later, by any node); safe twice.
 */
export class AlertDelivery {
  private stopped?: Promise<void>;

  private constructor(private readonly consumer: AlertRaisedConsumer, private readonly dispatcher: DeliveryDispatcher<DueDelivery>) {}

  static async start(deps: AlertDeliveryDeps): Promise<AlertDelivery> {
    const log = deps.log.child({ component: 'alert-delivery' });
    const store = new DeliveryStore(deps.db);
    const routes = () => deps.config.alerts.routes ?? {};
    const { env, ...tuning } = deps.tuning ?? {};
    const channel = alertChannel({
      breakers: deps.breakers, routes, dashboardUrl: deps.dashboardUrl, env,
      count: (routeType, outcome) => deps.metrics.alertDeliveries.inc({ route_type: routeType, outcome }),
    });
    const dispatcher = new DeliveryDispatcher({ queue: store.queue, channel, log, maxAttempts: deps.config.alertDeliveryMaxAttempts, ...tuning });
    await ensureAlertDeliveryConsumer(deps.jsm, deps.config.ackWaitMs);
    const consumer = new AlertRaisedConsumer({ js: deps.js, store, log, routes, recorded: () => dispatcher.wake() });
    await consumer.start();
    dispatcher.start();
    log.info({ routes: Object.keys(routes()) }, 'alert delivery started');
    return new AlertDelivery(consumer, dispatcher);
  }

  stop(): Promise<void> {
    return (this.stopped ??= (async () => {
      await this.consumer.stop();
      await this.dispatcher.stop();
    })());
  }
}
