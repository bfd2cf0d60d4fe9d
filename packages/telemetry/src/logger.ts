import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths never printed: credentials, bearer tokens and full device-token lists. Single tokens
 * are logged only through `shortenToken` from core.
 */
export const redactedPaths = [
  'passphrase',
  '*.passphrase',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'key',
  '*.key',
  'privateKey',
  '*.privateKey',
  'apiKey',
  '*.apiKey',
  'tokens',
  '*.tokens',
  'req.headers.authorization',
];

export interface LoggerOptions {
  name: string;
  level: string;
  /** Where JSON lines go; stderr by default so a process's stdout stays free for its own output. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      base: { app: options.name, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stderr,
  );
}
