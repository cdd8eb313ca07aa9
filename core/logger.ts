import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * The one root logger. Keys, tokens, authorization headers and user code are redacted wherever
 * they appear in a log object; modules take `logger.child({ module })`.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'key', '*.key', 'apiKey', '*.apiKey', 'token', '*.token', 'authorization',
          '*.authorization', 'req.headers.authorization', 'headers.authorization',
          'source', '*.source', 'stdin', '*.stdin', 'env', '*.env',
          'files', '*.files', 'content', '*.content',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

export type { Logger };
