/**
 * The columns every delivery table has (alert deliveries, webhook deliveries): where one
 * delivery stands, its retries and its last answer — what `src/delivery/` claims and settles.
 */
export const DELIVERY_STATE_COLUMNS = {
  status: { type: 'string' },
  attempts: { type: 'integer' },
  next_attempt_at: { type: 'Date' },
  last_http_status: { type: 'integer', nullable: true },
  last_answer: { type: 'text', nullable: true },
  last_error_code: { type: 'string', nullable: true },
  last_error: { type: 'text', nullable: true },
  payload: { type: 'json' },
  created_at: { type: 'Date' },
  updated_at: { type: 'Date', index: true },
  delivered_at: { type: 'Date', nullable: true },
} as const;
