/**
 * The error family. The class says what happens next:
 * - `TerminalError`: the input is wrong; retrying cannot help. NATS input is terminated and
 *   dead-lettered; HTTP answers 4xx. Subclasses carry a stable `code`.
 * - `RetryableError`: a dependency hiccup; the message is nak'ed with backoff.
 * - `ConfigError`: start-up configuration is invalid; the process prints one line and exits.
 */
export class OmoiError extends Error {
  override name = 'OmoiError';
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(`${message} [${code}]`, options);
  }
}

/** Bad input or an illegal request: answered once, never retried. */
export class TerminalError extends OmoiError {
  override name = 'TerminalError';
  /** HTTP status this error maps to at the HTTP edge. */
  readonly status: number;
  constructor(code: string, message: string, details: Record<string, unknown> = {}, status = 400) {
    super(code, message, details);
    this.status = status;
  }
}

export class NotFoundError extends TerminalError {
  override name = 'NotFoundError';
  constructor(what: string, id: string) {
    super('not_found', `${what} ${JSON.stringify(id)} does not exist`, { what, id }, 404);
  }
}

export class ConflictError extends TerminalError {
  override name = 'ConflictError';
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details, 409);
  }
}

/** A transient failure (database, network, lease lost): the work is retried later. */
export class RetryableError extends OmoiError {
  override name = 'RetryableError';
}

/** This node no longer holds the partition lease (fencing): its writes must not commit. */
export class FencedError extends RetryableError {
  override name = 'FencedError';
  constructor(partition: number, epoch: number) {
    super('fenced', `partition ${partition} epoch ${epoch} is no longer held by this node`, { partition, epoch });
  }
}

export class ConfigError extends OmoiError {
  override name = 'ConfigError';
  constructor(readonly setting: string, message: string) {
    super('invalid_config', `${setting}: ${message}`, { setting });
  }
}

export function isTerminal(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
