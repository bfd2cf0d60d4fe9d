import {
  activityTokenRegistrationSchema,
  type BroadcastStatus,
  broadcastNotificationSchema,
  broadcastRequestSchema,
  channelCreateRequestSchema,
  environments,
  liveActivityAlertSchema,
  liveSendRequestSchema,
  pushToStartRegistrationSchema,
} from '@pushfleet/core';
import { z } from 'zod';
import { exampleToken } from './common.ts';
import { component, document, documentTokenLists } from './field-docs.ts';

// Live Activities, channels and broadcasts in the OpenAPI document: descriptions of the request
// schemas (core's own, which validate) and the answers' schemas.

const exampleChannelId = 'dHN0LXNyY2gtY2hubA==';
const environment = z.enum(environments).describe('APNs environment');
const iso = (description: string) => z.iso.datetime().describe(description);

document(liveSendRequestSchema, 'LiveActivityPush', {
  tokens: 'Push-to-start or activity update tokens (hex); at most 1000',
  activityIds: {
    description:
      'Update or end these activities (ids as registered): each is sent to its current update token, looked up when it is sent, so a rotation meanwhile is followed. One without a token ends `rejected` with `ActivityNotFound`.',
    example: ['match-1842'],
  },
  userIds: {
    description:
      'A `start` goes to these users’ push-to-start tokens of `notification.attributesType`; an update or end to the tokens of their running activities',
    example: ['u-1842'],
  },
  notification:
    'The Live Activity payload: `event`, `contentState`, … (`pushType` is `liveactivity`, the default here)',
  environment: 'APNs environment; default: the app’s first configured one',
  sendAt: 'ISO 8601 time to send at (at most 30 days ahead); a past time sends now',
});
documentTokenLists(liveSendRequestSchema, 'LiveActivityPush');
component(liveSendRequestSchema, 'LiveActivityPush', {
  description:
    'A Live Activity push (start, update or end) to tokens, activity ids or user ids: exactly one of them. Token (.p8) apps only: a certificate app gets `PF_ERR_TOKEN_AUTH_REQUIRED`.',
  example: {
    activityIds: ['match-1842'],
    notification: {
      event: 'update',
      contentState: { home: 2, away: 1, minute: 67 },
      staleDate: 1767225600,
    },
  },
});

document(pushToStartRegistrationSchema, 'PushToStartRegistration', {
  attributesType: {
    description: 'The app’s ActivityAttributes type the token starts',
    example: 'MatchAttributes',
  },
  userId: { description: 'Your user id for the device (start by `userIds`)', example: 'u-1842' },
  environment: 'APNs environment of the token; default: the app’s first configured one',
});
component(pushToStartRegistrationSchema, 'PushToStartRegistration', {
  description: 'A push-to-start token (iOS 17.2+): which activity type it starts, and for whom.',
  example: { attributesType: 'MatchAttributes', userId: 'u-1842' },
});

document(activityTokenRegistrationSchema, 'ActivityTokenRegistration', {
  token: {
    type: 'string',
    pattern: '^(?:[0-9a-fA-F]{2}){8,100}$',
    description: 'The activity’s current update token (hex); a new one replaces the old (rotation)',
    example: exampleToken,
  },
  userId: { description: 'Your user id (update by `userIds`)', example: 'u-1842' },
  attributesType: { description: 'The activity’s ActivityAttributes type', example: 'MatchAttributes' },
  environment: 'APNs environment of the token; default: the app’s first configured one',
});
component(activityTokenRegistrationSchema, 'ActivityTokenRegistration', {
  description:
    'A running activity’s update token, as the app reports it (`pushTokenUpdates`). The record lives 12 hours after its last registration.',
  example: { token: exampleToken, userId: 'u-1842', attributesType: 'MatchAttributes' },
});

document(channelCreateRequestSchema, 'ChannelCreate', {
  name: { description: 'Your name for the channel: unique per app, used in paths', example: 'match-1842' },
  environment: 'APNs environment to create it in; default: the app’s first configured one',
  messageStoragePolicy:
    '`1` (default): APNs keeps the latest broadcast up to 8 hours for devices offline; `0`: nothing kept (every broadcast has expiration 0)',
  metadata: { description: 'Your data kept with the channel (≤ 4 KB of JSON)', example: { home: 'Lyon' } },
});
component(channelCreateRequestSchema, 'ChannelCreate', {
  description: 'A broadcast channel to create at APNs (10,000 per app and environment at most).',
  example: { name: 'match-1842', messageStoragePolicy: 1, metadata: { home: 'Lyon', away: 'Nantes' } },
});

document(broadcastNotificationSchema, 'BroadcastNotification', {
  pushType: 'Always `liveactivity` (may be left out)',
  event: '`update` or `end`: a broadcast reaches running activities, it never starts one',
  timestamp: 'UNIX seconds of the state this broadcast carries; default: now',
  contentState: 'The activities’ new dynamic state',
  staleDate: 'UNIX seconds after which the activities show as out of date',
  dismissalDate: '`end`: UNIX seconds at which the activities are removed (a past time: at once)',
  relevanceScore: 'Orders the app’s activities on the device',
  alert: 'An alert `{ title, body, sound? }` (title and body may be `{ locKey, locArgs }`)',
  data: 'Custom keys beside `aps`',
  priority: '10 (default), 5 or 1',
  expiration:
    'UNIX seconds: must be 0 on a storage-policy-0 channel; default 0 there, now + 8 h on a policy-1 channel',
  requestId: 'Sent as `apns-request-id` (a lower-case UUID)',
});
document(liveActivityAlertSchema, 'LiveActivityAlert', {
  title: 'The title: text, or `{ locKey, locArgs }`',
  body: 'The body: text, or `{ locKey, locArgs }`',
  sound: 'A sound file name, or `{ name, critical?, volume? }`',
});
document(broadcastRequestSchema, 'BroadcastRequest', {
  notification: 'The Live Activity payload every subscribed activity gets',
});
component(broadcastNotificationSchema, 'BroadcastNotification', {
  description: 'The payload of a broadcast: a Live Activity update or end (§F.2).',
});
component(broadcastRequestSchema, 'BroadcastRequest', {
  description:
    'One broadcast to every activity subscribed to the channel: one request to APNs, whatever their number.',
  example: { notification: { event: 'update', contentState: { home: 2, away: 1, minute: 67 } } },
});

export const channelSchema = z
  .object({
    name: z.string().describe('Your name for the channel'),
    channelId: z.string().describe('APNs’ channel id (base64): what a start’s `inputPushChannel` names'),
    environment,
    messageStoragePolicy: z
      .union([z.literal(0), z.literal(1)])
      .describe('0: no message kept; 1: the latest kept'),
    metadata: z.record(z.string(), z.unknown()).describe('Your data kept with it'),
    createdAt: iso('When it was created'),
  })
  .meta({
    id: 'Channel',
    example: {
      name: 'match-1842',
      channelId: exampleChannelId,
      environment: 'production',
      messageStoragePolicy: 1,
      metadata: { home: 'Lyon', away: 'Nantes' },
      createdAt: '2026-05-01T19:00:00.000Z',
    },
  });

export const channelListSchema = z
  .object({ items: z.array(channelSchema).describe('Channels, oldest first') })
  .meta({ id: 'ChannelList' });

export const broadcastAcceptedSchema = z
  .object({
    id: z.string().describe('The broadcast id: read its status with it'),
    channel: z.string().describe('The channel’s name'),
  })
  .meta({
    id: 'BroadcastAccepted',
    example: { id: '3c1d7a4e-0f55-4c2b-9a57-6e1f2d3c4b5a', channel: 'match-1842' },
  });

export const broadcastStatusSchema = z
  .object({
    id: z.string().describe('Broadcast id'),
    app: z.string().describe('App id'),
    environment,
    channel: z.string().describe('The channel’s name'),
    state: z.enum(['queued', 'done']).describe('`done` once APNs accepted or refused it for good'),
    outcome: z
      .enum(['delivered', 'rejected', 'failed', 'expired', 'cancelled'])
      .nullable()
      .describe('`delivered`: APNs accepted it (it reaches the subscribed activities); null until done'),
    reason: z
      .string()
      .nullable()
      .describe('Why it was not delivered: APNs’ reason (`ChannelNotRegistered`, …) or Pushfleet’s own'),
    createdAt: iso('When it was accepted'),
    finishedAt: iso('When it got its outcome').nullable(),
  })
  .meta({ id: 'BroadcastStatus' });

export const pushToStartTokenSchema = z
  .object({
    token: z.string().describe('Push-to-start token, lower-case hex'),
    app: z.string().describe('App id'),
    environment,
    attributesType: z.string().describe('The ActivityAttributes type it starts'),
    userId: z.string().nullable().describe('Your user id for it'),
    registeredAt: iso('When it was last registered'),
  })
  .meta({
    id: 'PushToStartToken',
    example: {
      token: exampleToken,
      app: 'sports',
      environment: 'production',
      attributesType: 'MatchAttributes',
      userId: 'u-1842',
      registeredAt: '2026-05-01T18:55:00.000Z',
    },
  });

export const activityTokenSchema = z
  .object({
    activityId: z.string().describe('The activity id'),
    token: z.string().describe('Its current update token, lower-case hex'),
    app: z.string().describe('App id'),
    environment,
    userId: z.string().nullable().describe('Your user id for it'),
    attributesType: z.string().nullable().describe('Its ActivityAttributes type'),
    registeredAt: iso('When its first token was registered'),
    updatedAt: iso('When its current token was registered (the last rotation)'),
  })
  .meta({ id: 'ActivityToken' });

const activityId = z
  .string()
  .describe('An activity id (yours, reported by the app with the activity’s token)')
  .meta({ example: 'match-1842' });
const app = z.string().describe('The app id').meta({ example: 'sports' });

export const activityParams = z.object({ app, activityId });
export const pushToStartParams = z.object({
  app,
  token: z
    .string()
    .describe('Push-to-start token: even-length hex of 8–100 bytes (a bad one is `PF_ERR_BAD_DEVICE_TOKEN`)')
    .meta({ pattern: '^(?:[0-9a-fA-F]{2}){8,100}$', example: exampleToken }),
});
export const channelParams = z.object({
  app,
  channel: z.string().describe('The channel’s name').meta({ example: 'match-1842' }),
});
export const broadcastParams = z.object({
  app,
  id: z
    .string()
    .describe('The id the broadcast request answered')
    .meta({ example: '3c1d7a4e-0f55-4c2b-9a57-6e1f2d3c4b5a' }),
});
export const pushToStartQuery = z.object({
  attributesType: z
    .string()
    .describe('The ActivityAttributes type it was registered for')
    .meta({ example: 'MatchAttributes' }),
  environment: z
    .enum(environments)
    .optional()
    .describe('Its environment; default: the app’s first configured one'),
});

type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <_ extends true>() => undefined;
same<Same<z.output<typeof broadcastStatusSchema>, BroadcastStatus>>();
