/**
 * How long JetStream remembers a message id (`Nats-Msg-Id`) and drops a second publish of it,
 * on every Omoi stream. Past it only `omoi_processed_message` recognises a copy, so processed
 * ids are kept at least this long (`OMOI_RETENTION_PROCESSED_MS`).
 */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;
