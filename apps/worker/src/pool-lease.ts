import type {
  PreparedBroadcast,
  PreparedNotification,
  PushTransport,
  SendResult,
  TransportStats,
} from '@pushfleet/core';

/**
 * An app × environment's pool as the delivery jobs hold it. It counts the sends it carries —
 * queued for a stream slot as well as in flight, which the pool's own `inFlight()` does not —
 * so a pool replaced after a change (rotated credentials, a new endpoint) closes only once every
 * send it took has its answers. A send that reaches a retired lease (a job looked the pool up
 * just before the change) goes to the app's current pool instead of a closing one: a rotation
 * fails nothing and nothing goes out under the old credential after the switch.
 */
export class PoolLease implements PushTransport {
  private active = 0;
  private retired = false;
  private drained: (() => void) | undefined;
  readonly sendBroadcast?: (prepared: PreparedBroadcast, channelId: string) => Promise<SendResult>;
  readonly stats?: () => TransportStats;

  constructor(
    readonly inner: PushTransport,
    /** The app × environment's pool now (after a retirement, its successor). */
    private readonly current: () => Promise<PushTransport>,
  ) {
    if (inner.stats) this.stats = () => inner.stats!();
    if (inner.sendBroadcast) {
      this.sendBroadcast = (prepared, channelId) =>
        this.carry(
          (t) => t.sendBroadcast?.(prepared, channelId) ?? Promise.resolve(noBroadcast),
          () => inner.sendBroadcast!(prepared, channelId),
        );
    }
  }

  send(prepared: PreparedNotification, tokens: readonly string[]): Promise<SendResult[]> {
    return this.carry(
      (t) => t.send(prepared, tokens),
      () => this.inner.send(prepared, tokens),
    );
  }

  private async carry<T>(elsewhere: (t: PushTransport) => Promise<T>, here: () => Promise<T>): Promise<T> {
    if (this.retired) return elsewhere(await this.current());
    this.active++;
    try {
      return await here();
    } finally {
      if (--this.active === 0) this.drained?.();
    }
  }

  warm(): Promise<void> {
    return this.inner.warm?.() ?? Promise.resolve();
  }

  inFlight(): number {
    return this.inner.inFlight?.() ?? 0;
  }

  /** Sends taken and not yet answered (waiting for a slot or in flight). */
  carrying(): number {
    return this.active;
  }

  /**
   * Takes no new sends (they go to the current pool) and closes the pool once the sends it
   * carries are answered, or at `deadlineMs` at the latest (a send settles within the request
   * timeout twice over, so the deadline only guards against a transport breaking its contract).
   */
  async retire(deadlineMs: number): Promise<void> {
    this.retired = true;
    if (this.active > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, deadlineMs);
      });
      clearTimeout(timer);
    }
    await this.inner.close();
  }

  close(): Promise<void> {
    this.retired = true;
    return this.inner.close();
  }
}

const noBroadcast: SendResult = { kind: 'failed', error: 'the transport cannot send broadcasts' };
