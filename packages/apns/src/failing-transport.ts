import type { PreparedBroadcast, PreparedNotification } from '@pushfleet/core';
import type { PushTransport, SendResult } from './transport.ts';

/**
 * A transport that cannot be set up (unreadable credentials, an unknown app): every send fails
 * with the same result, so the caller's classification (pause on `credentials: true`, retry
 * otherwise) decides what happens, and nothing throws.
 */
export class FailingTransport implements PushTransport {
  readonly failure: Extract<SendResult, { kind: 'failed' }>;

  constructor(error: string, credentials = false) {
    this.failure = Object.freeze({
      kind: 'failed',
      error,
      ...(credentials && { credentials: true as const }),
    });
  }

  async send(_prepared: PreparedNotification, tokens: readonly string[]): Promise<SendResult[]> {
    return tokens.map(() => this.failure);
  }

  async sendBroadcast(_prepared: PreparedBroadcast, _channelId: string): Promise<SendResult> {
    return this.failure;
  }

  async warm(): Promise<void> {}

  inFlight(): number {
    return 0;
  }

  async close(): Promise<void> {}
}
