import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Where a secret could sit in a log line: the Authorization header (of a request object or a
 * bare headers object) and any `token` field. Their values are written as `[redacted]`.
 */
export const SECRET_LOG_PATHS = {
  paths: [
    'authorization', 'headers.authorization', 'req.headers.authorization', 'request.headers.authorization',
    'token', '*.token', 'apiToken', '*.apiToken', 'secret', '*.secret',
  ],
  censor: '[redacted]',
};

/** JSON logs; pretty-printed only when stdout is a terminal. Secrets are redacted (`SECRET_LOG_PATHS`). */
export function createLogger(level: string, nodeId: string): Logger {
  const pretty = process.stdout.isTTY && process.env.OMOI_LOG_JSON !== '1';
  return pino({
    level,
    base: { node: nodeId },
    redact: SECRET_LOG_PATHS,
    transport: pretty ? { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } : undefined,
  });
}
