import {
  type AppTarget,
  type BroadcastDeliverJobData,
  type CampaignAudience,
  type DeviceDeliverJobData,
  deliverBatchSize,
  type Environment,
  isValidDeviceToken,
  normalizeDeviceToken,
  type PreparedBroadcast,
  type PreparedNotification,
  PushfleetError,
  urgentPriority,
  type ValidCampaignSpec,
  validateCampaignSpec,
  validateSendRequest,
} from '@pushfleet/core';
import type { Ledger } from '@pushfleet/store';
import type { ChainableCommander, Redis } from 'ioredis';
import { AppQueues, type DeliverBase, deliverJob, fanoutJob } from './app-queues.ts';

export interface DirectProducerOptions {
  connection: Redis;
  prefix: string;
  /** What validation needs to know of an app; undefined for an unknown app. */
  app: (app: string) => AppTarget | undefined;
  ledger: Ledger;
  /** Priority of campaign deliver batches (single notifications use 1). */
  campaignPriority?: number;
  /** Upper bound of one campaign audience (uploaded, inline or from the registry). */
  maxCampaignTokens?: number;
  onQueueError?: (err: Error, app: string) => void;
}

/** Tokens per RPUSH while storing an audience: big enough to amortise, small enough to stream. */
export const audienceChunkSize = 5000;

/**
 * Batches one transaction carries at most: a notification with more tokens stores them as an
 * audience list first and commits one fan-out job instead (MULTI blocks Redis while it runs).
 */
export const maxBatchesPerTransaction = 20;

/** A token source for campaigns: arrays (chunks) or single tokens, sync or async. */
export type TokenSource = Iterable<string | string[]> | AsyncIterable<string | string[]>;

/** Extra writes for the accepting transaction (the API stores its idempotent answer there). */
export type CommitHook = (tx: ChainableCommander) => void;

export interface NotificationInput {
  id: string;
  app: string;
  environment: Environment;
  prepared: PreparedNotification;
  tokens: string[];
  /** `activity`: `tokens` are Live Activity ids, resolved to their current tokens at send time. */
  target?: 'activity';
  delayMs?: number;
  now?: number;
}

export interface BroadcastInput {
  id: string;
  app: string;
  environment: Environment;
  /** The channel's name (what the record and its report show) and its APNs id (what is sent). */
  channel: string;
  channelId: string;
  prepared: PreparedBroadcast;
  delayMs?: number;
  now?: number;
}

/**
 * Enqueue directly into Redis, for services that share it: the same validation as the HTTP API
 * and the same ledger records, at full speed. The API uses it too: one path from a validated
 * request to accepted work. Accepting is one transaction (ledger record + jobs + the caller's
 * commit hook): a request is accepted whole or not at all.
 */
export class DirectProducer {
  readonly queues: AppQueues;

  constructor(private readonly options: DirectProducerOptions) {
    this.queues = new AppQueues(options.connection, options.prefix, options.onQueueError);
  }

  appTarget(app: string): AppTarget {
    const target = this.options.app(app);
    if (!target) throw new PushfleetError('PF_ERR_UNKNOWN_APP', undefined, { field: 'app' });
    return target;
  }

  /**
   * Validates and enqueues one notification to any number of tokens (no per-request cap here:
   * the caller shares the Redis). Returns its id and the number of distinct tokens.
   */
  async send(
    app: string,
    request: unknown,
    options: { id?: string; now?: number; commit?: CommitHook } = {},
  ): Promise<{ id: string; accepted: number }> {
    const now = options.now ?? Date.now();
    const valid = validateSendRequest(request, this.appTarget(app), Number.MAX_SAFE_INTEGER, now);
    if (!valid.tokens) {
      throw new PushfleetError('PF_ERR_VALIDATION', 'direct enqueue takes tokens; use a campaign for tags', {
        field: 'tokens',
      });
    }
    const id = options.id ?? crypto.randomUUID();
    await this.enqueueNotification(
      {
        id,
        app,
        environment: valid.environment,
        prepared: valid.prepared,
        tokens: valid.tokens,
        delayMs: valid.delayMs,
        now,
      },
      options.commit,
    );
    return { id, accepted: valid.tokens.length };
  }

  /** Accepts a validated notification: record and batches (or its fan-out) in one transaction. */
  async enqueueNotification(input: NotificationInput, commit?: CommitHook): Promise<void> {
    const now = input.now ?? Date.now();
    const delayMs = input.delayMs ?? 0;
    const base: DeliverBase<DeviceDeliverJobData> = {
      app: input.app,
      environment: input.environment,
      notificationId: input.id,
      prepared: input.prepared,
      ...(input.target && { target: input.target }),
    };
    // Activity ids are resolved per batch by the worker; the fan-out only knows device tokens.
    const viaFanout = !input.target && input.tokens.length > maxBatchesPerTransaction * deliverBatchSize;
    if (viaFanout) {
      try {
        await this.storeAudience(input.app, input.id, [input.tokens], Number.MAX_SAFE_INTEGER);
      } catch (err) {
        await this.options.ledger.fanout.dropAudience(input.app, input.id).catch(() => undefined);
        throw err;
      }
    }
    const t = await this.queues.transaction(input.app);
    this.options.ledger.records.stageNotification(t.tx, {
      app: input.app,
      id: input.id,
      environment: input.environment,
      accepted: input.tokens.length,
      now,
      delayMs,
      viaFanout,
    });
    if (viaFanout) {
      t.add(
        fanoutJob(
          { ...base, audience: { kind: 'list' }, priority: urgentPriority, maxTokens: input.tokens.length },
          delayMs,
        ),
      );
    } else {
      for (let i = 0; i < input.tokens.length; i += deliverBatchSize) {
        t.add(
          deliverJob(base, i / deliverBatchSize, input.tokens.slice(i, i + deliverBatchSize), {
            delayMs,
            priority: urgentPriority,
          }),
        );
      }
    }
    commit?.(t.tx);
    await t.exec();
  }

  /**
   * Accepts a prepared broadcast to one channel: its record (kind `broadcast`, counting the
   * channel as its one target) and its deliver job in one transaction, with the caller's commit
   * hook. The worker sends it with `sendBroadcast` and records it like a notification.
   */
  async enqueueBroadcast(input: BroadcastInput, commit?: CommitHook): Promise<void> {
    const now = input.now ?? Date.now();
    const delayMs = input.delayMs ?? 0;
    const t = await this.queues.transaction(input.app);
    this.options.ledger.records.stageBroadcast(t.tx, {
      app: input.app,
      id: input.id,
      environment: input.environment,
      channel: input.channel,
      now,
      delayMs,
    });
    const base: DeliverBase<BroadcastDeliverJobData> = {
      app: input.app,
      environment: input.environment,
      notificationId: input.id,
      prepared: input.prepared,
      broadcast: { channelId: input.channelId },
    };
    t.add(deliverJob(base, 0, [input.channel], { delayMs, priority: urgentPriority }));
    commit?.(t.tx);
    await t.exec();
  }

  /**
   * Creates a campaign: validates the spec, stores the audience (streamed in chunks of 5000 —
   * constant memory for any size) when `tokens` is given, then commits the record and its fan-out
   * job (delayed to `sendAt`) in one transaction. A bad token anywhere rejects the whole campaign
   * and leaves nothing behind; the error's field is `tokens.<index>`.
   */
  async createCampaign(
    app: string,
    spec: unknown,
    tokens?: TokenSource,
    options: {
      id?: string;
      now?: number;
      onChunk?: (stored: number) => Promise<void> | void;
      commit?: (tx: ChainableCommander, created: { campaignId: string; total: number | null }) => void;
    } = {},
  ): Promise<{ campaignId: string; total: number | null }> {
    const target = this.appTarget(app);
    const now = options.now ?? Date.now();
    const valid = validateCampaignSpec(spec, target, now);
    const id = options.id ?? crypto.randomUUID();
    let source: TokenSource | undefined = tokens;
    if (valid.audience?.kind === 'tokens') {
      if (tokens)
        throw new PushfleetError('PF_ERR_VALIDATION', 'audience given twice', { field: 'audience' });
      source = [valid.audience.tokens];
    }
    if (!source && !valid.audience) {
      throw new PushfleetError('PF_ERR_VALIDATION', 'a campaign needs an audience', { field: 'audience' });
    }
    const max = this.options.maxCampaignTokens ?? Number.MAX_SAFE_INTEGER;
    let total: number | null = null;
    if (source) {
      try {
        total = await this.storeAudience(app, id, source, max, options.onChunk);
        if (total === 0) throw new PushfleetError('PF_ERR_EMPTY_AUDIENCE', undefined, { field: 'audience' });
      } catch (err) {
        // Not committed yet: the list is ours to drop.
        await this.options.ledger.fanout.dropAudience(app, id).catch(() => undefined);
        throw err;
      }
    }
    const created = { campaignId: id, total };
    const t = await this.queues.transaction(app);
    this.stageCampaign(t, app, id, valid, total, now, max);
    options.commit?.(t.tx, created);
    // A failure here may still have committed (a lost reply): nothing is dropped, an uncommitted
    // audience expires by itself, and an idempotent retry finds the answer if it did commit.
    await t.exec();
    return created;
  }

  private stageCampaign(
    t: Awaited<ReturnType<AppQueues['transaction']>>,
    app: string,
    id: string,
    valid: ValidCampaignSpec,
    total: number | null,
    now: number,
    maxTokens: number,
  ): void {
    const audience: CampaignAudience =
      valid.audience === null || valid.audience.kind === 'tokens' ? { kind: 'list' } : valid.audience;
    this.options.ledger.records.stageCampaign(t.tx, {
      app,
      id,
      environment: valid.environment,
      name: valid.name,
      audience: audience.kind === 'list' ? 'upload' : audience.kind,
      total: total ?? undefined,
      sendAt: valid.sendAt,
      ratePerSecond: valid.ratePerSecond,
      now,
      delayMs: valid.delayMs,
    });
    t.add(
      fanoutJob(
        {
          app,
          environment: valid.environment,
          notificationId: id,
          audience,
          prepared: valid.prepared,
          ...(valid.ratePerSecond !== undefined && { ratePerSecond: valid.ratePerSecond }),
          priority: this.options.campaignPriority ?? 100,
          maxTokens,
        },
        valid.delayMs,
      ),
    );
  }

  private async storeAudience(
    app: string,
    id: string,
    source: TokenSource,
    max: number,
    onChunk?: (stored: number) => Promise<void> | void,
  ): Promise<number> {
    const fanout = this.options.ledger.fanout;
    await fanout.resetAudience(app, id);
    let chunk: string[] = [];
    let stored = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const tokensToStore = chunk;
      chunk = [];
      await fanout.appendAudience(app, id, tokensToStore);
      stored += tokensToStore.length;
      await onChunk?.(stored);
    };
    let index = 0;
    const take = (token: string) => {
      if (!isValidDeviceToken(token))
        throw new PushfleetError('PF_ERR_BAD_DEVICE_TOKEN', undefined, { field: `tokens.${index}` });
      if (index >= max) {
        throw new PushfleetError('PF_ERR_TOO_MANY_TOKENS', `at most ${max} tokens per campaign`, {
          field: 'tokens',
        });
      }
      chunk.push(normalizeDeviceToken(token));
      index++;
    };
    for await (const item of source) {
      if (typeof item === 'string') take(item);
      else for (const token of item) take(token);
      // Awaiting each write is the backpressure: the source is not read while Redis is busy.
      if (chunk.length >= audienceChunkSize) await flush();
    }
    await flush();
    return stored;
  }

  async close(): Promise<void> {
    await this.queues.close();
  }
}
