import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs; pretty-printed only when stdout is a terminal. */
export function createLogger(level: string, nodeId: string): Logger {
  const pretty = process.stdout.isTTY && process.env.OMOI_LOG_JSON !== '1';
  return pino({
    level,
    base: { node: nodeId },
    transport: pretty ? { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } : undefined,
  });
}
