import {
  type Environment,
  isValidDeviceToken,
  normalizeDeviceToken,
  type PreparedNotification,
  PushfleetError,
} from '@pushfleet/core';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type CampaignAudience,
  type CampaignJobData,
  campaignJobOptions,
  campaignsQueueName,
  singleNotificationPriority,
} from './campaign-job.ts';
import { DeliverProducer } from './producer.ts';
import {
  type AppTarget,
  type ValidCampaignSpec,
  validateCampaignSpec,
  validateSendRequest,
} from './requests.ts';

/** The notification-status port (satisfied by `NotificationStatusStore` in @pushfleet/store). */
export interface StatusRecords {
  create(input: { id: string; app: string; environment: Environment; accepted: number }): Promise<void>;
  remove(id: string): Promise<void>;
}

/** The campaign-record port (satisfied by `CampaignStore` in @pushfleet/store). */
export interface CampaignRecords {
  resetAudience(id: string): Promise<void>;
  appendTokens(id: string, tokens: string[]): Promise<void>;
  create(
    input: {
      id: string;
      app: string;
      environment: Environment;
      name?: string | undefined;
      audience: 'upload' | 'all' | 'tags' | 'users';
      total?: number | undefined;
      sendAt?: number | undefined;
      ratePerSecond?: number | undefined;
    },
    now?: number,
  ): Promise<void>;
  remove(id: string, app: string): Promise<void>;
}

export interface DirectProducerOptions {
  connection: Redis;
  prefix: string;
  apps: Readonly<Record<string, AppTarget>>;
  status: StatusRecords;
  campaigns: CampaignRecords;
  /** Priority of campaign deliver batches (single notifications use 1). */
  campaignPriority?: number;
  /** Upper bound of one campaign audience. */
  maxCampaignTokens?: number;
}

/** Tokens per RPUSH while storing an audience: big enough to amortise, small enough to stream. */
export const audienceChunkSize = 5000;

/** A token source for campaigns: arrays (chunks) or single tokens, sync or async. */
export type TokenSource = Iterable<string | string[]> | AsyncIterable<string | string[]>;

/**
 * Enqueue directly into Redis, for services that share it: the same validation as the HTTP API
 * and the same records, at full speed (addBulk in chunks). The API uses it too, so there is one
 * path from a validated request to queued jobs.
 */
export class DirectProducer {
  readonly deliver: DeliverProducer;
  private campaignsQueue: Queue<CampaignJobData> | undefined;

  constructor(private readonly options: DirectProducerOptions) {
    this.deliver = new DeliverProducer(options.connection, options.prefix);
  }

  appTarget(app: string): AppTarget {
    const target = this.options.apps[app];
    if (!target) throw new PushfleetError('PF_ERR_UNKNOWN_APP', undefined, { field: 'app' });
    return target;
  }

  campaignQueue(): Queue<CampaignJobData> {
    this.campaignsQueue ??= new Queue<CampaignJobData>(campaignsQueueName, {
      connection: this.options.connection,
      prefix: this.options.prefix,
    });
    return this.campaignsQueue;
  }

  /**
   * Validates and enqueues one notification to any number of tokens (no per-request cap here:
   * the caller shares the Redis). Returns its id and the number of distinct tokens.
   */
  async send(
    app: string,
    request: unknown,
    options: { id?: string; now?: number } = {},
  ): Promise<{ id: string; accepted: number }> {
    const valid = validateSendRequest(request, this.appTarget(app), Number.MAX_SAFE_INTEGER, options.now);
    if (!valid.tokens) {
      throw new PushfleetError('PF_ERR_VALIDATION', 'direct enqueue takes tokens; use a campaign for tags', {
        field: 'tokens',
      });
    }
    const id = options.id ?? crypto.randomUUID();
    await this.enqueueNotification({
      id,
      app,
      environment: valid.environment,
      prepared: valid.prepared,
      tokens: valid.tokens,
      delayMs: valid.delayMs,
    });
    return { id, accepted: valid.tokens.length };
  }

  /**
   * Status record first, then the jobs: if enqueueing fails the record goes and the error
   * propagates, so nothing is half-accepted. Deterministic job ids (`<id>-<batchNo>`) make a
   * retry with the same id add nothing twice.
   */
  async enqueueNotification(input: {
    id: string;
    app: string;
    environment: Environment;
    prepared: PreparedNotification;
    tokens: string[];
    delayMs?: number;
  }): Promise<void> {
    await this.options.status.create({
      id: input.id,
      app: input.app,
      environment: input.environment,
      accepted: input.tokens.length,
    });
    try {
      await this.deliver.enqueue(
        {
          app: input.app,
          environment: input.environment,
          notificationId: input.id,
          prepared: input.prepared,
        },
        input.tokens,
        { delayMs: input.delayMs, priority: singleNotificationPriority },
      );
    } catch (err) {
      await this.options.status.remove(input.id).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Creates a campaign: validates the spec, stores the audience (streamed in chunks of 5000 —
   * constant memory for any size) when `tokens` is given, writes the record and enqueues one
   * `campaigns` job (delayed to `sendAt`). A bad token anywhere rejects the whole campaign and
   * leaves nothing behind; the error's field is `tokens.<index>`.
   */
  async createCampaign(
    app: string,
    spec: unknown,
    tokens?: TokenSource,
    options: { id?: string; now?: number; onChunk?: (stored: number) => Promise<void> | void } = {},
  ): Promise<{ campaignId: string; total: number | null }> {
    const target = this.appTarget(app);
    const valid = validateCampaignSpec(spec, target, options.now);
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
    let total: number | null = null;
    try {
      if (source) total = await this.storeAudience(id, source, options.onChunk);
      if (total === 0) throw new PushfleetError('PF_ERR_EMPTY_AUDIENCE', undefined, { field: 'audience' });
      await this.enqueueCampaign(id, app, valid, total, options.now ?? Date.now());
    } catch (err) {
      await this.options.campaigns.remove(id, app).catch(() => undefined);
      throw err;
    }
    return { campaignId: id, total };
  }

  private async storeAudience(
    id: string,
    source: TokenSource,
    onChunk?: (stored: number) => Promise<void> | void,
  ): Promise<number> {
    const max = this.options.maxCampaignTokens ?? Number.MAX_SAFE_INTEGER;
    await this.options.campaigns.resetAudience(id);
    let chunk: string[] = [];
    let stored = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const tokensToStore = chunk;
      chunk = [];
      await this.options.campaigns.appendTokens(id, tokensToStore);
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

  private async enqueueCampaign(
    id: string,
    app: string,
    valid: ValidCampaignSpec,
    total: number | null,
    now: number,
  ): Promise<void> {
    const audience: CampaignAudience =
      valid.audience === null || valid.audience.kind === 'tokens' ? { kind: 'list' } : valid.audience;
    await this.options.campaigns.create(
      {
        id,
        app,
        environment: valid.environment,
        name: valid.name,
        audience: audience.kind === 'list' ? 'upload' : audience.kind,
        total: total ?? undefined,
        sendAt: valid.sendAt,
        ratePerSecond: valid.ratePerSecond,
      },
      now,
    );
    const data: CampaignJobData = {
      campaignId: id,
      app,
      environment: valid.environment,
      audience,
      prepared: valid.prepared,
      priority: this.options.campaignPriority ?? 100,
      cursor: { phase: audience.kind === 'list' ? 'fanout' : 'materialise', offset: 0 },
    };
    if (valid.ratePerSecond !== undefined) data.ratePerSecond = valid.ratePerSecond;
    await this.campaignQueue().add('fanout', data, {
      ...campaignJobOptions,
      jobId: id,
      delay: valid.delayMs || undefined,
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.deliver.close(), this.campaignsQueue?.close()]);
  }
}
