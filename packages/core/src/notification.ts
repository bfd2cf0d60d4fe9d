import { z } from 'zod';
import {
  attributesTypeSchema,
  buildLiveActivityAps,
  channelIdSchema,
  customDataSchema,
  isLiveActivityAlert,
  jsonObjectSchema,
  liveActivityAlertSchema,
  liveActivityEvents,
  liveActivityIssues,
  liveActivityOnlyFields,
  notLiveActivityFields,
  unixSecondsSchema,
} from './live-activity.ts';
import { type PushType, pushTypes } from './push-type.ts';

const utf8Bytes = (value: string) => Buffer.byteLength(value, 'utf8');

const alertSchema = z.union([
  z.string(),
  z
    .object({
      title: z.string(),
      subtitle: z.string(),
      body: z.string(),
      launchImage: z.string(),
      titleLocKey: z.string(),
      titleLocArgs: z.array(z.string()),
      subtitleLocKey: z.string(),
      subtitleLocArgs: z.array(z.string()),
      locKey: z.string(),
      locArgs: z.array(z.string()),
    })
    .partial()
    .strict(),
  // Live Activities put `sound` inside the alert and may localize title and body (§H.2).
  liveActivityAlertSchema,
]);

const soundSchema = z.union([
  z.string(),
  z
    .object({
      critical: z.boolean().optional(),
      name: z.string(),
      volume: z.number().min(0).max(1).optional(),
    })
    .strict(),
]);

/**
 * What a producer asks to send, in Pushfleet's camelCase model. It is turned into APNs headers
 * and an `aps` payload once, by {@link prepareNotification}, before it is queued.
 */
export const notificationSchema = z
  .object({
    alert: alertSchema.optional(),
    badge: z.number().int().min(0).optional(),
    sound: soundSchema.optional(),
    category: z.string().optional(),
    threadId: z.string().optional(),
    contentAvailable: z.boolean().optional(),
    mutableContent: z.boolean().optional(),
    contentChanged: z.boolean().optional(),
    targetContentId: z.string().optional(),
    interruptionLevel: z.enum(['passive', 'active', 'time-sensitive', 'critical']).optional(),
    /** 0–1 for alerts; any number for Live Activities (it orders them, §H.2). */
    relevanceScore: z.number().optional(),
    filterCriteria: z.string().optional(),
    /** Live Activities (pushType `liveactivity`, docs/apns-protocol.md §H.2): start, update or end. */
    event: z.enum(liveActivityEvents).optional(),
    /** UNIX seconds of the state this push carries (the device keeps the newest); default: now. */
    timestamp: unixSecondsSchema.optional(),
    /** The activity's dynamic state, as the app's ContentState decodes it (keys are the app's own). */
    contentState: jsonObjectSchema.optional(),
    /** UNIX seconds after which the activity shows as out of date. */
    staleDate: unixSecondsSchema.optional(),
    /** UNIX seconds at which an ended activity is removed (a past time: at once); `end` only. */
    dismissalDate: unixSecondsSchema.optional(),
    /** The app's ActivityAttributes type name; `start` only. */
    attributesType: attributesTypeSchema.optional(),
    /** The activity's fixed attributes; `start` only. */
    attributes: jsonObjectSchema.optional(),
    /** `start` only (iOS 18): the new activity gets its own update token. */
    inputPushToken: z.boolean().optional(),
    /** `start` only (iOS 18): the new activity subscribes to this broadcast channel (base64 id). */
    inputPushChannel: channelIdSchema.optional(),
    /**
     * Custom keys placed beside `aps` in the payload. Live Activity pushes may carry them too,
     * though Apple documents only `aps` for them: the activity reads its content state (§H.2).
     */
    data: customDataSchema.optional(),
    pushType: z.enum(pushTypes).default('alert'),
    priority: z.union([z.literal(10), z.literal(5), z.literal(1)]).optional(),
    /** UNIX seconds; 0 = one attempt, not stored by APNs. A passed expiration ends as `expired`. */
    expiration: z.number().int().min(0).optional(),
    collapseId: z
      .string()
      .refine((id) => utf8Bytes(id) <= 64, { message: 'collapseId is at most 64 bytes' })
      .optional(),
    apnsId: z
      .string()
      .regex(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        'apnsId must be a lower-case UUID',
      )
      .optional(),
  })
  .strict()
  .superRefine((n, ctx) => {
    for (const issue of pushTypeIssues(n)) ctx.addIssue({ code: 'custom', ...issue });
  });

/**
 * Rules across fields that depend on the push type: Live Activity fields only on `liveactivity`
 * pushes (and its own rules, liveActivityIssues), the alert and relevance score in the form the
 * push type uses.
 */
function pushTypeIssues(n: Notification): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  if (n.pushType === 'liveactivity') {
    for (const field of notLiveActivityFields) {
      if (n[field] !== undefined) {
        issues.push({
          path: [field],
          message: `${field} is not part of a Live Activity payload${field === 'sound' ? ' (put the sound in alert.sound)' : ''}`,
        });
      }
    }
    issues.push(...liveActivityIssues(n));
    return issues;
  }
  for (const field of liveActivityOnlyFields) {
    if (n[field] !== undefined) {
      issues.push({ path: [field], message: `${field} is only for pushType "liveactivity"` });
    }
  }
  if (n.relevanceScore !== undefined && (n.relevanceScore < 0 || n.relevanceScore > 1)) {
    issues.push({ path: ['relevanceScore'], message: 'relevanceScore is between 0 and 1' });
  }
  if (isLiveActivityAlert(n.alert)) {
    issues.push({
      path: ['alert'],
      message:
        'a sound inside the alert, or a localized title or body object, is only for pushType "liveactivity"',
    });
  }
  return issues;
}

export type NotificationInput = z.input<typeof notificationSchema>;
export type Notification = z.output<typeof notificationSchema>;

/** APNs request headers, minus `authorization` and `:path`, which belong to the transport. */
export interface PreparedHeaders {
  'apns-push-type': PushType;
  'apns-topic': string;
  'apns-priority'?: string;
  'apns-expiration'?: string;
  'apns-collapse-id'?: string;
  'apns-id'?: string;
}

/** A notification ready for the wire: built once per notification, shared by every token. */
export interface PreparedNotification {
  headers: PreparedHeaders;
  /** The serialized JSON body, byte-for-byte what APNs receives. */
  payload: string;
}

function buildAps(n: Notification): Record<string, unknown> {
  const aps: Record<string, unknown> = {};
  if (n.alert !== undefined) aps.alert = typeof n.alert === 'string' ? n.alert : kebabKeys(n.alert);
  if (n.badge !== undefined) aps.badge = n.badge;
  if (n.sound !== undefined) aps.sound = n.sound;
  if (n.category !== undefined) aps.category = n.category;
  if (n.threadId !== undefined) aps['thread-id'] = n.threadId;
  if (n.contentAvailable) aps['content-available'] = 1;
  if (n.mutableContent) aps['mutable-content'] = 1;
  if (n.contentChanged) aps['content-changed'] = true;
  if (n.targetContentId !== undefined) aps['target-content-id'] = n.targetContentId;
  if (n.interruptionLevel !== undefined) aps['interruption-level'] = n.interruptionLevel;
  if (n.relevanceScore !== undefined) aps['relevance-score'] = n.relevanceScore;
  if (n.filterCriteria !== undefined) aps['filter-criteria'] = n.filterCriteria;
  return aps;
}

function kebabKeys(object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    out[key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)] = value;
  }
  return out;
}

/**
 * Builds the wire form. Pure: the caller checks the size against the push type's limit. `now`
 * (ms) is the time a Live Activity push without a `timestamp` is stamped with; callers pass
 * their clock.
 */
export function prepareNotification(n: Notification, topic: string, now = Date.now()): PreparedNotification {
  const headers: PreparedHeaders = { 'apns-push-type': n.pushType, 'apns-topic': topic };
  // Apple: background pushes must use priority 5; sending 10 is an error.
  const priority = n.priority ?? (n.pushType === 'background' ? 5 : undefined);
  if (priority !== undefined) headers['apns-priority'] = String(priority);
  if (n.expiration !== undefined) headers['apns-expiration'] = String(n.expiration);
  if (n.collapseId !== undefined) headers['apns-collapse-id'] = n.collapseId;
  if (n.apnsId !== undefined) headers['apns-id'] = n.apnsId;
  const aps = n.pushType === 'liveactivity' ? buildLiveActivityAps(n, now) : buildAps(n);
  const payload = JSON.stringify({ ...n.data, aps });
  return { headers, payload };
}

export function payloadBytes(prepared: PreparedNotification): number {
  return utf8Bytes(prepared.payload);
}

/** True when an `apns-expiration` in the past means APNs would drop it anyway (broadcasts too). */
export function hasExpired(prepared: { headers: { 'apns-expiration'?: string } }, nowMs: number): boolean {
  const expiration = Number(prepared.headers['apns-expiration'] ?? 0);
  return expiration > 0 && expiration * 1000 < nowMs;
}
