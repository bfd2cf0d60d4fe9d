import type { PreparedBroadcast, PreparedNotification, PushTransport, SendResult } from '@pushfleet/core';

/**
 * A transport that answers from a script and remembers every send, so tests can count how
 * often each token reached "APNs". `answer(token, nth)` gets the token and how many times it was
 * sent before; the default accepts everything.
 */
export class FakeTransport implements PushTransport {
  readonly sends = new Map<string, number>();
  sendCalls = 0;

  constructor(
    private readonly answer: (token: string, nth: number) => SendResult = () => ({
      kind: 'accepted',
      apnsId: undefined,
    }),
  ) {}

  async send(_prepared: PreparedNotification, tokens: readonly string[]): Promise<SendResult[]> {
    this.sendCalls++;
    return tokens.map((token) => {
      const nth = this.sends.get(token) ?? 0;
      this.sends.set(token, nth + 1);
      return this.answer(token, nth);
    });
  }

  /** A broadcast counts as a send to `channel:<id>` and is answered by the same script. */
  async sendBroadcast(_prepared: PreparedBroadcast, channelId: string): Promise<SendResult> {
    const key = `channel:${channelId}`;
    const nth = this.sends.get(key) ?? 0;
    this.sends.set(key, nth + 1);
    return this.answer(key, nth);
  }

  async close(): Promise<void> {}

  /** Sends beyond the first, summed over tokens. */
  duplicates(): number {
    let n = 0;
    for (const count of this.sends.values()) n += Math.max(0, count - 1);
    return n;
  }
}
