import type { ApnsStreamConnection, CloseDetail } from './connection.ts';
import type { PoolSize, TransportStats } from './transport.ts';

/** Why a request got no stream slot: the text of its failure, and whether credentials are to blame. */
export interface NoSlot {
  error: string;
  credentials?: true;
}

/** Called with a reserved connection, or with why there is none (closing, deadline, a failed connect). */
export type SlotUser = (conn: ApnsStreamConnection | undefined, why?: NoSlot) => void;

export interface PoolOptions {
  size: Required<PoolSize>;
  /** Opens one connection; may throw (the pool turns that into a failed attempt). */
  open(events: PoolConnectionEvents): ApnsStreamConnection;
  /** A request waits at most this long for a stream slot, then fails as retryable. */
  acquireTimeoutMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  onChange?(open: number): void;
  onClose?(reason: string): void;
}

export interface PoolConnectionEvents {
  onSlotFree(): void;
  onClose(conn: ApnsStreamConnection, reason: string, detail: CloseDetail): void;
}

/** Connections in a row closed by the server right after presenting the certificate: a refusal. */
const suspectAttempts = 3;

interface Waiter {
  use: SlotUser;
  deadline: number;
}

/**
 * The connections of one app × environment, sized by the load. Throughput at a real round trip
 * is streams in flight ÷ RTT, so when every open connection's streams are in use and requests
 * queue, the pool opens another, up to `max`; connections above `min` close once unused for
 * `shrinkAfterMs`, and all of them after `idleCloseMs` without a request (an idle app costs
 * nothing; the next send reopens). Each connection's own limit follows the server's SETTINGS,
 * including APNs' start at one stream until the first authenticated request (docs/apns-protocol.md
 * §C.2): a connection counts
 * as full only once it has answered (is `proven`), so a cold start opens one connection, not `max`.
 *
 * Every request waiting for a slot has a deadline: a server that advertises no streams, never
 * sends SETTINGS or does not speak h2 makes requests fail in bounded time, never wait forever.
 */
export class ConnectionPool {
  private readonly conns: ApnsStreamConnection[] = [];
  private readonly waiters: Waiter[] = [];
  /** When each connection last had a request handed to it (for shrinking). */
  private readonly lastUsed = new Map<ApnsStreamConnection, number>();
  private failures = 0;
  private suspectStreak = 0;
  private nextAttemptAt = 0;
  private lastFailure: NoSlot | undefined;
  private lastRequestAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private waiterTimer: NodeJS.Timeout | undefined;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(private readonly options: PoolOptions) {}

  /** Calls `use` with a reserved connection now, or when one frees up, or with why not in time. */
  acquire(use: SlotUser): void {
    const conn = this.take();
    if (conn || this.closing) {
      use(conn, conn ? undefined : { error: 'transport closed' });
      return;
    }
    this.waiters.push({ use, deadline: Date.now() + this.options.acquireTimeoutMs });
    this.armWaiterTimer();
  }

  /** Reserves a stream slot on the first connection with room (the caller must send on it). */
  take(): ApnsStreamConnection | undefined {
    if (this.closing) return undefined;
    const now = Date.now();
    this.lastRequestAt = now;
    // First fit, not spread: load concentrates on the first connections, so extra ones go
    // idle and close when the load drops.
    for (const conn of this.conns) {
      if (!conn.closed && conn.capacity() > 0) {
        conn.reserved++;
        this.lastUsed.set(conn, now);
        return conn;
      }
    }
    this.grow(now);
    return undefined;
  }

  /** Opens a connection if the pool is below `min`, or if every proven connection is full. */
  private grow(now: number): void {
    const live = this.conns.length;
    if (live >= this.options.size.max) return;
    if (now < this.nextAttemptAt) {
      this.scheduleRetry(this.nextAttemptAt - now);
      return;
    }
    const opening = this.conns.filter((c) => !c.proven).length;
    // Doubling at most: never more connections opening at once than are proven full (min 1).
    if (live < this.options.size.min || opening < Math.max(1, live - opening)) this.open();
  }

  private open(): ApnsStreamConnection | undefined {
    let conn: ApnsStreamConnection;
    try {
      conn = this.options.open({
        onSlotFree: () => this.wake(),
        onClose: (closed, reason, detail) => this.onClosed(closed, reason, detail),
      });
    } catch (err) {
      // Nothing the transport does may throw out of a timer: a connection that cannot even be
      // created is a failed attempt like any other.
      this.attemptFailed({ error: `cannot open a connection: ${(err as Error).message}`.slice(0, 200) });
      return undefined;
    }
    this.conns.push(conn);
    this.lastUsed.set(conn, Date.now());
    this.report();
    this.startMaintenance();
    return conn;
  }

  private onClosed(conn: ApnsStreamConnection, reason: string, detail: CloseDetail): void {
    const i = this.conns.indexOf(conn);
    if (i < 0) return;
    this.conns.splice(i, 1);
    this.lastUsed.delete(conn);
    this.options.onClose?.(reason);
    this.report();
    if (conn.proven && !detail.credentials) {
      this.failures = 0;
      this.nextAttemptAt = 0;
      this.suspectStreak = 0;
    } else if (reason !== 'shutdown') {
      this.suspectStreak = detail.certificateSuspect ? this.suspectStreak + 1 : 0;
      const credentials = detail.credentials || this.suspectStreak >= suspectAttempts;
      this.attemptFailed(
        credentials
          ? { error: `credentials: the server refused the client certificate (${reason})`, credentials: true }
          : { error: `no connection: ${reason}` },
        // Not yet sure it is the certificate: keep the requests and try again after the backoff.
        detail.certificateSuspect && !credentials,
      );
      return;
    }
    this.wake();
  }

  /**
   * A connection failed before it ever answered: back off before the next attempt (jittered, so
   * a fleet does not reconnect in lock-step), and if no other connection is up, fail the waiting
   * requests now rather than at their deadline: the caller retries them later.
   */
  private attemptFailed(why: NoSlot, keepWaiters = false): void {
    this.failures++;
    const delay = Math.min(
      this.options.reconnectMaxMs,
      this.options.reconnectBaseMs * 2 ** (this.failures - 1),
    );
    this.nextAttemptAt = Date.now() + delay / 2 + (Math.random() * delay) / 2;
    this.lastFailure = why;
    if (this.conns.some((c) => !c.closed)) return;
    if (keepWaiters) {
      this.scheduleRetry(this.nextAttemptAt - Date.now());
      return;
    }
    for (const waiter of this.waiters.splice(0)) waiter.use(undefined, why);
  }

  /** A slot freed up or a connection closed: hand out slots to waiting requests, oldest first. */
  private wake(): void {
    while (this.waiters.length > 0) {
      const conn = this.take();
      if (!conn) return;
      this.waiters.shift()!.use(conn);
    }
  }

  /** Wakes the waiters when the reconnect backoff ends (a request may be queued right after this). */
  private scheduleRetry(ms: number): void {
    if (this.retryTimer || this.closing) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.wake();
    }, ms);
  }

  /** One timer for every waiter: they share a timeout, so the oldest is always due first. */
  private armWaiterTimer(): void {
    if (this.waiterTimer || this.waiters.length === 0) return;
    this.waiterTimer = setTimeout(
      () => {
        this.waiterTimer = undefined;
        const now = Date.now();
        while (this.waiters.length > 0 && this.waiters[0]!.deadline <= now) {
          const why = this.lastFailure ?? { error: 'no stream slot' };
          this.waiters.shift()!.use(undefined, {
            ...why,
            error: `no stream slot within ${this.options.acquireTimeoutMs} ms (${why.error})`,
          });
        }
        this.armWaiterTimer();
      },
      Math.max(0, this.waiters[0]!.deadline - Date.now()),
    );
  }

  /** While connections are open: close the unused ones above `min`, and all after `idleCloseMs`. */
  private startMaintenance(): void {
    if (this.maintenanceTimer) return;
    const { idleCloseMs, shrinkAfterMs } = this.options.size;
    const every = Math.max(50, Math.min(1000, idleCloseMs / 4, shrinkAfterMs / 4));
    this.maintenanceTimer = setInterval(() => this.maintain(), every);
    this.maintenanceTimer.unref();
  }

  private maintain(): void {
    const now = Date.now();
    const { min, idleCloseMs, shrinkAfterMs } = this.options.size;
    if (this.conns.length === 0) {
      clearInterval(this.maintenanceTimer);
      this.maintenanceTimer = undefined;
      return;
    }
    const busy = (c: ApnsStreamConnection) => c.inFlight + c.reserved > 0;
    if (now - this.lastRequestAt >= idleCloseMs && this.waiters.length === 0) {
      for (const conn of [...this.conns]) if (!busy(conn)) void conn.close();
      return;
    }
    // Shrink one at a time, the last-opened first (first fit leaves those idle).
    if (this.conns.length <= min) return;
    const last = this.conns.at(-1)!;
    if (!busy(last) && now - (this.lastUsed.get(last) ?? 0) >= shrinkAfterMs) void last.close();
  }

  private report(): void {
    this.options.onChange?.(this.conns.length);
  }

  /** Opens `min` connections (at least one) and resolves when each is ready or has failed. */
  async warm(): Promise<void> {
    this.lastRequestAt = Date.now();
    const want = Math.max(1, this.options.size.min);
    while (!this.closing && this.conns.length < want && Date.now() >= this.nextAttemptAt) {
      if (!this.open()) break;
    }
    await Promise.all(this.conns.map((c) => c.ready()));
  }

  /** `waitingForSlot` counts callers, not tokens: a whole batch waits as one. */
  stats(): Omit<TransportStats, 'waiting'> & { waitingForSlot: number } {
    let inFlight = 0;
    let streamLimit = 0;
    for (const c of this.conns) {
      inFlight += c.inFlight;
      streamLimit += c.limit();
    }
    return { connections: this.conns.length, inFlight, streamLimit, waitingForSlot: this.waiters.length };
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.waiterTimer);
    clearInterval(this.maintenanceTimer);
    for (const waiter of this.waiters.splice(0)) waiter.use(undefined, { error: 'transport closed' });
    await Promise.all([...this.conns].map((c) => c.close()));
    this.report();
  }
}
