import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Diagnostics go to stderr (fd 2): stdout carries only the one JSON ready line that
 * process wrappers parse. Quiet ('warn') unless asked.
 */
export function createLogger(level: string = 'warn'): Logger {
  return pino({ name: 'apns-sim', level }, pino.destination({ fd: 2, sync: true }));
}
