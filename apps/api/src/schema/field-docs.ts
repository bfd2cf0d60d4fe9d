import {
  campaignSpecSchema,
  notificationSchema,
  registryAudienceSchema,
  sendRequestSchema,
} from '@pushfleet/core';
import { z } from 'zod';
import { exampleToken } from './common.ts';

/**
 * Descriptions and examples of the request schemas' fields, for the OpenAPI document. The
 * schemas are @pushfleet/core's own (the ones that validate); these only add metadata to their
 * fields through zod's registry, which is what `z.toJSONSchema` reads. A description the schema
 * carries itself (`.describe()` in core) wins over the one here. A field added to a schema
 * without a description fails apps/api/tests/openapi.test.ts, which names it.
 */

type Meta = { description?: string; example?: unknown; [key: string]: unknown };

/** Field names given here that the schema does not have (a renamed field): the test lists them. */
export const unknownDocumentedFields: string[] = [];

export function document(schema: z.ZodType, where: string, fields: Record<string, string | Meta>): void {
  const shape = schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : {};
  for (const [name, doc] of Object.entries(fields)) {
    const field = shape[name];
    if (!field) {
      unknownDocumentedFields.push(`${where}.${name}`);
      continue;
    }
    const meta: Meta = typeof doc === 'string' ? { description: doc } : doc;
    const own = z.globalRegistry.get(field) ?? {};
    z.globalRegistry.add(field, { ...meta, ...own });
  }
}

/** Names the schema's component in the document (`#/components/schemas/<id>`). */
export function component(schema: z.ZodType, id: string, meta: Meta = {}): void {
  z.globalRegistry.add(schema, { ...meta, ...z.globalRegistry.get(schema), id });
}

const tokenItem: Meta = {
  type: 'string',
  pattern: '^(?:[0-9a-fA-F]{2}){8,100}$',
  description:
    'Device token: even-length hex of 8–100 bytes, any case. A bad one is `PF_ERR_BAD_DEVICE_TOKEN` with `field: tokens.<index>`.',
  example: exampleToken,
};

/**
 * Token lists are `z.array(z.unknown())` on purpose: the handlers check each token and answer a
 * bad one with PF_ERR_BAD_DEVICE_TOKEN naming its index. Their items are documented as what is
 * accepted. Walks objects, optionals and unions for every `tokens` array (inline audiences too).
 */
export function documentTokenLists(schema: z.ZodType, where: string): void {
  let found = 0;
  const visit = (node: unknown, depth: number): void => {
    if (depth > 6) return;
    if (node instanceof z.ZodOptional || node instanceof z.ZodDefault) visit(node.unwrap(), depth + 1);
    else if (node instanceof z.ZodUnion) for (const option of node.options) visit(option, depth + 1);
    else if (node instanceof z.ZodObject) {
      for (const [name, field] of Object.entries(node.shape as Record<string, z.ZodType>)) {
        let inner: unknown = field;
        while (inner instanceof z.ZodOptional) inner = inner.unwrap();
        if (name === 'tokens' && inner instanceof z.ZodArray && inner.element instanceof z.ZodUnknown) {
          z.globalRegistry.add(inner.element, tokenItem);
          found++;
        } else visit(field, depth + 1);
      }
    }
  };
  visit(schema, 0);
  if (found === 0) unknownDocumentedFields.push(`${where}: no token list`);
}

document(notificationSchema, 'Notification', {
  alert:
    'The alert: a string (the body), or `{ title, subtitle, body, launchImage, titleLocKey, titleLocArgs, subtitleLocKey, subtitleLocArgs, locKey, locArgs }`; for a Live Activity `{ title, body, sound? }` where title and body may be `{ locKey, locArgs }`',
  badge: { description: 'The app icon’s badge number (0 removes it)', example: 1 },
  sound: 'A sound file name, or `{ name, critical?, volume? }` (critical alerts: volume 0–1)',
  category: 'The notification category (actions the app registered)',
  threadId: 'Groups notifications (`thread-id`)',
  contentAvailable: 'Wakes the app in the background (`content-available: 1`); with pushType `background`',
  mutableContent: 'Lets the app’s notification service extension modify it (`mutable-content: 1`)',
  contentChanged: 'Tells a widget its content changed (`content-changed`, pushType `widgets`)',
  targetContentId: 'The window or content to bring forward (`target-content-id`)',
  interruptionLevel: '`passive`, `active` (default), `time-sensitive` or `critical`',
  relevanceScore: '0–1: how the system ranks it in the summary; for a Live Activity any number (orders them)',
  filterCriteria: 'Focus filter criteria (`filter-criteria`)',
  event: 'Live Activity (pushType `liveactivity`): `start`, `update` or `end`',
  timestamp:
    'Live Activity: UNIX seconds of the state this push carries (the device keeps the newest); default: now',
  contentState: 'Live Activity: the dynamic state, as the app’s ContentState decodes it',
  staleDate: 'Live Activity: UNIX seconds after which it shows as out of date',
  dismissalDate: 'Live Activity `end`: UNIX seconds at which it is removed (a past time: at once)',
  attributesType: 'Live Activity `start`: the app’s ActivityAttributes type name',
  attributes: 'Live Activity `start`: the activity’s fixed attributes',
  inputPushToken: 'Live Activity `start` (iOS 18): the new activity gets its own update token',
  inputPushChannel:
    'Live Activity `start` (iOS 18): the new activity subscribes to this broadcast channel (base64 id)',
  data: {
    description: 'Custom keys placed beside `aps` in the payload (not `aps` itself)',
    example: { orderId: 42 },
  },
  pushType:
    'The APNs push type (`apns-push-type`); it also picks the topic suffix and the payload limit (4096 bytes, 5120 for `voip`)',
  priority: '`10` now, `5` power-friendly (required for `background`), `1` lowest (`apns-priority`)',
  expiration:
    'UNIX seconds until which APNs keeps trying (`apns-expiration`); 0: one attempt. Passed before sending: the token ends `expired`',
  collapseId:
    'Replaces an earlier notification with the same id on the device (`apns-collapse-id`, ≤ 64 bytes UTF-8)',
  apnsId: 'A lower-case UUID to identify it in APNs (`apns-id`)',
});

document(sendRequestSchema, 'SendRequest', {
  userIds: { description: 'Notify every device registered to these user ids (≤ 1000)', example: ['u-1842'] },
  tags: { description: 'Notify every device with one of these tags (≤ 100)', example: ['vip'] },
  environment: 'APNs environment; default: the app’s first configured one',
});

document(campaignSpecSchema, 'CampaignSpec', {
  name: { description: 'A name to recognise it by', example: 'Spring sale' },
  environment: 'APNs environment; default: the app’s first configured one',
  audience:
    'Who gets it (JSON bodies): `{ kind: "all" }`, `{ kind: "tags", tags }`, `{ kind: "users", userIds }` (the device registry) or `{ kind: "tokens", tokens }` (≤ 100,000 inline). Uploads leave it out: the body carries the tokens.',
  ratePerSecond: { description: 'Send at most this many tokens per second', example: 5000 },
});

component(sendRequestSchema, 'SendRequest', {
  description:
    'One notification to up to `api.maxTokensPerRequest` tokens (1000), or to the devices of user ids or tags. Exactly one of `tokens`, `userIds`, `tags`.',
  example: {
    tokens: [exampleToken],
    notification: {
      alert: { title: 'Your order shipped', body: 'It arrives tomorrow' },
      badge: 1,
      data: { orderId: 42 },
    },
  },
});
component(campaignSpecSchema, 'CampaignSpec', {
  description: 'A campaign: the notification, its audience, when and how fast.',
  example: {
    name: 'Spring sale',
    notification: { alert: { title: 'Spring sale', body: '20% off today' } },
    audience: { kind: 'tags', tags: ['vip'] },
    ratePerSecond: 5000,
  },
});
component(notificationSchema, 'Notification', {
  description:
    'What to show or do on the device, in camelCase; Pushfleet builds the APNs headers and `aps` payload.',
});
component(registryAudienceSchema, 'RegistryAudience', {
  description: 'An audience from the device registry: every device, or the devices of tags or user ids.',
});
documentTokenLists(sendRequestSchema, 'SendRequest');
documentTokenLists(campaignSpecSchema, 'CampaignSpec');
