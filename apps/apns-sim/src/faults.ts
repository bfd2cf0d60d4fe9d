import { isReason, type Rejection, reasonStatus } from './reasons.ts';

/**
 * A fault as posted to `POST /faults`. Every field is optional; the ones present decide what
 * the fault does (see README "Faults"). Request faults (status/reset/latency) fire on a
 * deterministic fraction `rate` of matching requests: an accumulator adds `rate` per request
 * and fires when it reaches 1, so rate 0.25 fails exactly every 4th request.
 */
export interface FaultSpec {
  status?: number | undefined;
  reason?: string | undefined;
  rate?: number | undefined;
  token?: string | undefined;
  count?: number | undefined;
  retryAfter?: number | undefined;
  latencyMs?: number | undefined;
  latencyJitterMs?: number | undefined;
  timestamp?: number | undefined;
  durationMs?: number | undefined;
  goawayAfter?: number | undefined;
  reset?: boolean | 'connection' | 'stream' | undefined;
  maxConcurrentStreams?: number | undefined;
  dropToOneAfterRejection?: boolean | undefined;
  tlsHandshakeDelayMs?: number | undefined;
  legacyStatus?: number | undefined;
}

export interface Fault extends FaultSpec {
  id: number;
  remaining: number;
  acc: number;
  expiresAt: number;
  /** Streams seen per connection since the fault was added (goawayAfter). */
  streamsSeen: WeakMap<object, number>;
}

export interface RequestFaultOutcome {
  rejection: Rejection | undefined;
  reset: 'connection' | 'stream' | undefined;
  latencyMs: number;
}

const none: RequestFaultOutcome = Object.freeze({ rejection: undefined, reset: undefined, latencyMs: 0 });

export class FaultStore {
  private faults: Fault[] = [];
  private nextId = 1;
  fired = 0;

  constructor(
    private readonly now: () => number,
    private readonly random: () => number,
    /** Called when a connection-level setting (streams, drop-to-one, handshake delay) may have changed. */
    private readonly onConnectionSettings: () => void,
  ) {}

  add(spec: FaultSpec): Fault {
    if (spec.status !== undefined && spec.reason === undefined) {
      throw new Error('a fault with a status needs a reason');
    }
    if (spec.reason !== undefined && spec.status === undefined && spec.goawayAfter === undefined) {
      if (!isReason(spec.reason)) throw new Error(`unknown reason ${spec.reason}; give a status too`);
    }
    const fault: Fault = {
      ...spec,
      token: spec.token?.toLowerCase(),
      status:
        spec.status ??
        (spec.reason && spec.goawayAfter === undefined && isReason(spec.reason)
          ? reasonStatus[spec.reason]
          : undefined),
      id: this.nextId++,
      remaining: spec.count ?? Number.POSITIVE_INFINITY,
      acc: 0,
      expiresAt: spec.durationMs !== undefined ? this.now() + spec.durationMs : Number.POSITIVE_INFINITY,
      streamsSeen: new WeakMap(),
    };
    this.faults.push(fault);
    this.onConnectionSettings();
    return fault;
  }

  clear(): void {
    this.faults = [];
    this.fired = 0;
    this.onConnectionSettings();
  }

  list(): Fault[] {
    this.prune();
    return this.faults;
  }

  private prune(): void {
    const t = this.now();
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.remaining > 0 && f.expiresAt > t);
    if (this.faults.length !== before) this.onConnectionSettings();
  }

  private fires(fault: Fault, token: string | undefined): boolean {
    if (fault.token !== undefined && fault.token !== token) return false;
    fault.acc += fault.rate ?? 1;
    if (fault.acc < 1 - 1e-9) return false;
    fault.acc -= 1;
    fault.remaining--;
    this.fired++;
    return true;
  }

  /** Decides whether this request fails, resets or is delayed. `token` is lower-case hex. */
  forRequest(token: string | undefined): RequestFaultOutcome {
    if (this.faults.length === 0) return none;
    this.prune();
    let latencyMs = 0;
    let rejection: Rejection | undefined;
    let reset: 'connection' | 'stream' | undefined;
    for (const fault of this.faults) {
      if (fault.goawayAfter !== undefined || fault.legacyStatus !== undefined) continue;
      const isOutcome = fault.status !== undefined || fault.reset;
      const isLatency = fault.latencyMs !== undefined;
      if (!isOutcome && !isLatency) continue;
      if (isOutcome && (rejection || reset)) continue;
      if (!this.fires(fault, token)) continue;
      if (isLatency) latencyMs = Math.max(latencyMs, this.latencyOf(fault));
      if (fault.reset) reset = fault.reset === 'stream' ? 'stream' : 'connection';
      else if (fault.status !== undefined) {
        rejection = { status: fault.status, reason: fault.reason ?? 'InternalServerError' };
        if (fault.status === 410) rejection.timestamp = fault.timestamp ?? this.now();
        if (fault.retryAfter !== undefined) rejection.retryAfter = fault.retryAfter;
      }
    }
    this.prune();
    return { rejection, reset, latencyMs };
  }

  private latencyOf(fault: Fault): number {
    const base = fault.latencyMs ?? 0;
    const jitter = fault.latencyJitterMs ?? 0;
    return jitter > 0 ? base + this.random() * jitter : base;
  }

  /**
   * Counts a new stream on `connection`; returns the GOAWAY reason when a goawayAfter fault
   * reaches its count on this connection.
   */
  onStream(connection: object): string | undefined {
    if (this.faults.length === 0) return undefined;
    let reason: string | undefined;
    for (const fault of this.faults) {
      if (fault.goawayAfter === undefined || fault.remaining <= 0) continue;
      const seen = (fault.streamsSeen.get(connection) ?? 0) + 1;
      fault.streamsSeen.set(connection, seen);
      if (seen === fault.goawayAfter && reason === undefined) {
        fault.remaining--;
        this.fired++;
        reason = fault.reason ?? 'Shutdown';
      }
    }
    if (reason) this.prune();
    return reason;
  }

  /** The legacy-gateway status byte to fail this notification with, if any. */
  forLegacy(token: string): number | undefined {
    if (this.faults.length === 0) return undefined;
    this.prune();
    for (const fault of this.faults) {
      if (fault.legacyStatus === undefined) continue;
      if (this.fires(fault, token)) return fault.legacyStatus;
    }
    return undefined;
  }

  /** The newest stream-limit override, if any fault sets one. */
  maxConcurrentStreams(): number | undefined {
    let value: number | undefined;
    for (const fault of this.faults)
      if (fault.maxConcurrentStreams !== undefined) value = fault.maxConcurrentStreams;
    return value;
  }

  dropToOneAfterRejection(): boolean {
    return this.faults.some((f) => f.dropToOneAfterRejection === true);
  }

  tlsHandshakeDelayMs(): number {
    let value = 0;
    for (const fault of this.faults) value = Math.max(value, fault.tlsHandshakeDelayMs ?? 0);
    return value;
  }
}
