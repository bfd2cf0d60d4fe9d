import type { BroadcastStatus, Environment, NotificationInput } from '@pushfleet/core';
import type { PushfleetClient } from './client.ts';
import type { SendNotificationResponse } from './types.ts';

export type { BroadcastStatus } from '@pushfleet/core';

/** A Live Activity payload (`pushType` is `liveactivity` and may be left out). */
export type LiveActivityNotification = Omit<NotificationInput, 'pushType'> & { pushType?: 'liveactivity' };

/** Where a Live Activity push goes: exactly one of tokens, activity ids or user ids. */
export type LiveActivityTarget =
  | { tokens: string[]; activityIds?: undefined; userIds?: undefined }
  | { activityIds: string[]; tokens?: undefined; userIds?: undefined }
  | { userIds: string[]; tokens?: undefined; activityIds?: undefined };

export type LiveActivityPush = LiveActivityTarget & {
  notification: LiveActivityNotification;
  environment?: Environment | undefined;
  sendAt?: string | undefined;
};

export interface PushToStartToken {
  token: string;
  app: string;
  environment: Environment;
  attributesType: string;
  userId: string | null;
  registeredAt: string;
}

export interface ActivityToken {
  activityId: string;
  token: string;
  app: string;
  environment: Environment;
  userId: string | null;
  attributesType: string | null;
  registeredAt: string;
  updatedAt: string;
}

export interface Channel {
  name: string;
  /** APNs' id: what a start's `inputPushChannel` names. */
  channelId: string;
  environment: Environment;
  messageStoragePolicy: 0 | 1;
  metadata: Record<string, unknown>;
  createdAt: string;
}

export interface ChannelCreate {
  name: string;
  environment?: Environment | undefined;
  /** 1 (default): APNs keeps the latest broadcast 8 h for devices offline; 0: nothing kept. */
  messageStoragePolicy?: 0 | 1 | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** A broadcast's payload: an update or end for every activity subscribed to the channel. */
export interface BroadcastNotification {
  event: 'update' | 'end';
  contentState: Record<string, unknown>;
  timestamp?: number | undefined;
  staleDate?: number | undefined;
  dismissalDate?: number | undefined;
  relevanceScore?: number | undefined;
  alert?: NotificationInput['alert'] | undefined;
  data?: Record<string, unknown> | undefined;
  priority?: 10 | 5 | 1 | undefined;
  expiration?: number | undefined;
  requestId?: string | undefined;
}

type Idempotent = { idempotencyKey?: string | undefined };

const path = (app: string, rest: string) => `/v1/apps/${encodeURIComponent(app)}${rest}`;
const env = (environment: Environment | undefined) => (environment ? { environment } : {});

/** Live Activities: pushes (start, update, end) and the token registries. */
export class LiveActivitiesApi {
  constructor(private readonly client: Pick<PushfleetClient, 'request'>) {}

  /** Starts, updates or ends activities; its status is a notification's (`getNotification`). */
  send(app: string, push: LiveActivityPush, options: Idempotent = {}): Promise<SendNotificationResponse> {
    return this.client.request('POST', path(app, '/live-activities'), {
      json: push,
      headers: { 'idempotency-key': options.idempotencyKey ?? crypto.randomUUID() },
    });
  }

  registerPushToStart(
    app: string,
    token: string,
    registration: {
      attributesType: string;
      userId?: string | undefined;
      environment?: Environment | undefined;
    },
  ): Promise<PushToStartToken> {
    return this.client.request(
      'PUT',
      path(app, `/live-activities/push-to-start/${encodeURIComponent(token)}`),
      {
        json: registration,
      },
    );
  }

  getPushToStart(
    app: string,
    token: string,
    attributesType: string,
    environment?: Environment,
  ): Promise<PushToStartToken> {
    return this.client.request(
      'GET',
      path(app, `/live-activities/push-to-start/${encodeURIComponent(token)}`),
      {
        query: { attributesType, ...env(environment) },
      },
    );
  }

  async unregisterPushToStart(
    app: string,
    token: string,
    attributesType: string,
    environment?: Environment,
  ): Promise<void> {
    await this.client.request(
      'DELETE',
      path(app, `/live-activities/push-to-start/${encodeURIComponent(token)}`),
      {
        query: { attributesType, ...env(environment) },
      },
    );
  }

  /** Registers an activity's update token, or its new one after a rotation. */
  registerActivity(
    app: string,
    activityId: string,
    registration: {
      token: string;
      userId?: string | undefined;
      attributesType?: string | undefined;
      environment?: Environment | undefined;
    },
  ): Promise<ActivityToken> {
    return this.client.request(
      'PUT',
      path(app, `/live-activities/activities/${encodeURIComponent(activityId)}`),
      {
        json: registration,
      },
    );
  }

  getActivity(app: string, activityId: string, environment?: Environment): Promise<ActivityToken> {
    return this.client.request(
      'GET',
      path(app, `/live-activities/activities/${encodeURIComponent(activityId)}`),
      {
        query: env(environment),
      },
    );
  }

  async forgetActivity(app: string, activityId: string, environment?: Environment): Promise<void> {
    await this.client.request(
      'DELETE',
      path(app, `/live-activities/activities/${encodeURIComponent(activityId)}`),
      {
        query: env(environment),
      },
    );
  }
}

/** Broadcast channels (made at APNs by the api) and broadcasts to them. */
export class ChannelsApi {
  constructor(private readonly client: Pick<PushfleetClient, 'request'>) {}

  create(app: string, channel: ChannelCreate): Promise<Channel> {
    return this.client.request('POST', path(app, '/channels'), { json: channel });
  }

  async list(app: string, environment?: Environment): Promise<Channel[]> {
    return (
      await this.client.request<{ items: Channel[] }>('GET', path(app, '/channels'), {
        query: env(environment),
      })
    ).items;
  }

  get(app: string, name: string): Promise<Channel> {
    return this.client.request('GET', path(app, `/channels/${encodeURIComponent(name)}`));
  }

  async delete(app: string, name: string): Promise<void> {
    await this.client.request('DELETE', path(app, `/channels/${encodeURIComponent(name)}`));
  }

  broadcast(
    app: string,
    name: string,
    notification: BroadcastNotification,
    options: Idempotent = {},
  ): Promise<{ id: string; channel: string }> {
    return this.client.request('POST', path(app, `/channels/${encodeURIComponent(name)}/broadcasts`), {
      json: { notification },
      headers: { 'idempotency-key': options.idempotencyKey ?? crypto.randomUUID() },
    });
  }

  getBroadcast(app: string, id: string): Promise<BroadcastStatus> {
    return this.client.request('GET', path(app, `/broadcasts/${encodeURIComponent(id)}`));
  }

  /** Polls a broadcast until it has its outcome (or `timeoutMs` passes). */
  async waitForBroadcast(
    app: string,
    id: string,
    options: { intervalMs?: number; timeoutMs?: number } = {},
  ): Promise<BroadcastStatus> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const status = await this.getBroadcast(app, id);
      if (status.state === 'done' || Date.now() > deadline) return status;
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
    }
  }
}
