import type { PreparedBroadcast } from './broadcast.ts';
import type { BatchCheckpoint } from './checkpoint.ts';
import type { Environment } from './environment.ts';
import type { DeliverJobData } from './jobs.ts';
import type { PreparedNotification } from './notification.ts';
import type { StepOutcomes } from './outcome.ts';
import type { SendResult } from './send-result.ts';

/**
 * Ports of the delivery core: the worker's job processors depend on these interfaces only, so
 * they run against fakes in unit tests and against Redis and APNs in production (adapters:
 * `BatchLedger` in @pushfleet/store, `Http2Transport` in @pushfleet/apns).
 */

/** A transport's pool state, for metrics. */
export interface TransportStats {
  /** Connections open or opening. */
  connections: number;
  inFlight: number;
  /** Requests waiting for a free stream slot: the pool is saturated while this stays above 0. */
  waiting: number;
  /** Streams the pool may have in flight now: Σ min(own cap, server's SETTINGS) over its connections. */
  streamLimit: number;
}

/** The port every APNs transport implements (packages/apns); adapters are checked with `satisfies`. */
export interface PushTransport {
  /**
   * Sends one prepared notification to each token; results are in token order. Never rejects,
   * and every result arrives within a bounded time (the request timeout, plus the same again
   * at most while waiting for a stream slot).
   */
  send(prepared: PreparedNotification, tokens: readonly string[]): Promise<SendResult[]>;
  /**
   * Sends one broadcast to a channel (docs/apns-protocol.md §F.2) on the same connections and
   * credentials as `send`, when the transport can. Never rejects; settles in bounded time like
   * `send`. Classify the result with `broadcastActionFor`, not the device-push reason table.
   */
  sendBroadcast?(prepared: PreparedBroadcast, channelId: string): Promise<SendResult>;
  /** Opens the connections ahead of the first send, when the transport can. Never rejects. */
  warm?(): Promise<void>;
  /** Requests awaiting an answer, when the transport can tell. */
  inFlight?(): number;
  /** Pool size and load, when the transport can tell. */
  stats?(): TransportStats;
  close(): Promise<void>;
}

/** One deliver batch: which record it counts into, and which attempt of it this is. */
export interface BatchRef {
  app: string;
  environment: Environment;
  notificationId: string;
  batchNo: number;
  attempt: number;
}

export type BatchState =
  | { kind: 'new' }
  | { kind: 'progress'; checkpoint: BatchCheckpoint }
  | { kind: 'done' };

export interface BatchStart {
  /** False when the record is gone (never accepted, or expired): the batch must not send. */
  exists: boolean;
  cancelled: boolean;
  state: BatchState;
  /**
   * The state's exact version (opaque; '' for none). Every step names the version it builds on,
   * so a step applies only if nothing changed the batch since (compare-and-set).
   */
  version: string;
}

export interface Step {
  /** The version this step builds on: from `begin`, or the previous applied step. */
  after: string;
  outcomes: StepOutcomes;
  /** The batch's state after this step: a checkpoint, or done. */
  state: BatchCheckpoint | 'done';
  now: number;
}

export type StepResult =
  | { kind: 'applied'; cancelled: boolean; version: string }
  /** Another run claimed or moved the batch since: this one must stop (the state says where it is). */
  | { kind: 'moved-on'; cancelled: boolean; state: BatchState }
  | { kind: 'no-record' };

/** The ledger as a deliver job sees it. */
export interface DeliveryLedger {
  /**
   * Where a batch stands, claimed for the run `run`: from now on a step of any earlier run of
   * the same batch (a stalled job's first worker, still alive) no longer applies.
   */
  begin(ref: BatchRef, run: string): Promise<BatchStart>;
  /** Records one step exactly once (compare-and-set on the batch's version). */
  record(ref: BatchRef, step: Step): Promise<StepResult>;
  /** Marks the batch done and adds the job that takes its retry tokens over, in one step. */
  handOver(ref: BatchRef, retry: RetryJob): Promise<void>;
}

/** The job that takes a batch's retryable tokens over, after a backoff delay. */
export interface RetryJob {
  data: DeliverJobData;
  delayMs: number;
  priority: number | undefined;
}
