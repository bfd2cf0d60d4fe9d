import { broadcastReasonStatus, isBroadcastReason } from './broadcast-reasons.ts';
import { isReason, type Rejection, reasonStatus } from './reasons.ts';

/**
 * Which requests a fault applies to: device pushes (`/3/device`, the default, as before
 * broadcasts existed), broadcasts (`/4/broadcasts`), channel management (the channel port), or all.
 */
export type FaultTarget = 'device' | 'broadcast' | 'channels' | 'all';

/** The two HTTP/2 listeners: the provider port (device pushes and broadcasts) and the channel port. */
export type ServerPort = 'provider' | 'channels';

/** What a request fault is matched against. */
export interface FaultRequest {
  target: Exclude<FaultTarget, 'all'>;
  /** Lower-case hex device token (device pushes). */
  token?: string | undefined;
  /** The request's apns-channel-id (broadcasts, channel read/delete). */
  channelId?: string | undefined;
}

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
  target?: FaultTarget | undefined;
  channelId?: string | undefined;
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
    const target = spec.target ?? 'device';
    if (spec.token !== undefined && target !== 'device' && target !== 'all') {
      throw new Error('token applies to device pushes only; use channelId for broadcasts and channels');
    }
    if (spec.channelId !== undefined && target === 'device') {
      throw new Error('channelId needs target broadcast, channels or all');
    }
    const looked = spec.reason !== undefined ? statusOf(spec.reason, target) : undefined;
    if (spec.reason !== undefined && spec.status === undefined && spec.goawayAfter === undefined) {
      if (looked === undefined) throw new Error(`unknown reason ${spec.reason}; give a status too`);
    }
    const fault: Fault = {
      ...spec,
      token: spec.token?.toLowerCase(),
      status: spec.status ?? (spec.goawayAfter === undefined ? looked : undefined),
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

  private fires(fault: Fault, request: FaultRequest): boolean {
    const target = fault.target ?? 'device';
    if (target !== 'all' && target !== request.target) return false;
    if (fault.token !== undefined && fault.token !== request.token) return false;
    if (fault.channelId !== undefined && fault.channelId !== request.channelId) return false;
    fault.acc += fault.rate ?? 1;
    if (fault.acc < 1 - 1e-9) return false;
    fault.acc -= 1;
    fault.remaining--;
    this.fired++;
    return true;
  }

  /** Decides whether this request fails, resets or is delayed. */
  forRequest(request: FaultRequest): RequestFaultOutcome {
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
      if (!this.fires(fault, request)) continue;
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
  onStream(connection: object, port: ServerPort): string | undefined {
    if (this.faults.length === 0) return undefined;
    let reason: string | undefined;
    for (const fault of this.faults) {
      if (fault.goawayAfter === undefined || fault.remaining <= 0 || !onPort(fault, port)) continue;
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
      if (this.fires(fault, { target: 'device', token })) return fault.legacyStatus;
    }
    return undefined;
  }

  /** The newest stream-limit override for this port, if any fault sets one. */
  maxConcurrentStreams(port: ServerPort): number | undefined {
    let value: number | undefined;
    for (const fault of this.faults)
      if (fault.maxConcurrentStreams !== undefined && onPort(fault, port)) value = fault.maxConcurrentStreams;
    return value;
  }

  dropToOneAfterRejection(port: ServerPort): boolean {
    return this.faults.some((f) => f.dropToOneAfterRejection === true && onPort(f, port));
  }

  tlsHandshakeDelayMs(port: ServerPort): number {
    let value = 0;
    for (const fault of this.faults)
      if (onPort(fault, port)) value = Math.max(value, fault.tlsHandshakeDelayMs ?? 0);
    return value;
  }
}

/**
 * Connection-level faults (goawayAfter, stream limits, handshake delay) act on a listener:
 * device and broadcast faults on the provider port, channel faults on the channel port.
 */
function onPort(fault: FaultSpec, port: ServerPort): boolean {
  const target = fault.target ?? 'device';
  if (target === 'all') return true;
  return port === 'channels' ? target === 'channels' : target !== 'channels';
}

/** The documented status of `reason` for requests of `target` (device table first for device/all). */
function statusOf(reason: string, target: FaultTarget): number | undefined {
  const device = isReason(reason) ? reasonStatus[reason] : undefined;
  const broadcast = isBroadcastReason(reason) ? broadcastReasonStatus[reason] : undefined;
  return target === 'device' || target === 'all' ? (device ?? broadcast) : (broadcast ?? device);
}
