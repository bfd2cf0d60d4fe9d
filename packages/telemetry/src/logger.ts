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

/** A run of hex long enough to be a device token (or a secret): never printed whole. */
const longHex = /[0-9a-fA-F]{40,}/g;

function scrubText(text: string): string {
  return text.replace(longHex, (hex) => `${hex.slice(0, 8)}…${hex.slice(-4)}`);
}

type SerializedError = Record<string, unknown>;

/**
 * Errors as pino prints them, minus what may carry device tokens or payloads: ioredis attaches
 * the failed command with its arguments to reply errors (`command.args`, and `previousErrors` of
 * a transaction), and a message or stack may quote a token.
 */
export function serializeError(err: unknown, depth = 0): SerializedError {
  const out: SerializedError =
    err instanceof Error ? { ...pino.stdSerializers.err(err) } : { message: String(err) };
  delete out.command;
  delete out.args;
  for (const field of ['message', 'stack'] as const) {
    if (typeof out[field] === 'string') out[field] = scrubText(out[field] as string);
  }
  if (Array.isArray(out.previousErrors)) {
    out.previousErrors =
      depth < 3 ? out.previousErrors.map((e: unknown) => serializeError(e, depth + 1)) : [];
  }
  if (out.cause !== undefined && typeof out.cause === 'object') {
    out.cause = depth < 3 ? serializeError(out.cause, depth + 1) : undefined;
  }
  return out;
}

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
      serializers: { err: (e: unknown) => serializeError(e) },
      base: { app: options.name, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stderr,
  );
}
