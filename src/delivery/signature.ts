import { createHmac, timingSafeEqual } from 'node:crypto';

/** `sha256=<hex HMAC-SHA256 of the exact body bytes>`: alert webhooks' `Omoi-Signature`, GitHub's `X-Hub-Signature-256`. */
export function signatureOf(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Webhook subscriptions' `Omoi-Signature`: `sha256=<hex HMAC-SHA256 of "<Omoi-Timestamp>.<body>">`.
 * Signing the timestamp with the body lets a receiver refuse a replayed old delivery.
 */
export function timestampedSignatureOf(secret: string, timestamp: string, body: string): string {
  return signatureOf(secret, `${timestamp}.${body}`);
}

/** Whether `header` is `signatureOf(secret, body)`, compared in constant time. */
export function signatureMatches(secret: string, body: string | Buffer, header: unknown): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(signatureOf(secret, body));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}
