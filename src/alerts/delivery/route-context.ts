import type { AlertNotification } from '../alert-kinds.ts';

/**
 * What every route is given for one attempt. `status` is `raised` for a notification of an
 * alert, `test` for `omoi alert-deliveries test` (its kind and fields are placeholders).
 */
export interface DeliveryRequest {
  /** The configured route's name (`alerts.routes` key): named in errors instead of its URL. */
  routeName: string;
  /** The delivery's id (`Omoi-Delivery`; e-mail: a header of the same name). */
  deliveryId: string;
  notification: AlertNotification;
  status: 'raised' | 'test';
  /** The dashboard's address, linked from e-mail and Slack messages when known. */
  dashboardUrl?: string;
  /** Each attempt's bound, ms (HTTP request; SMTP connection, greeting and each socket wait). */
  timeoutMs: number;
  /** Aborted when the node stops. */
  signal?: AbortSignal;
  /** Where `{ env }` secrets are read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}
