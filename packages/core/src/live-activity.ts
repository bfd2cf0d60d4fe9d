import { z } from 'zod';
import { PushfleetError } from './errors.ts';
import type { PushType } from './push-type.ts';

// Live Activity (ActivityKit) payloads: the fields, their rules and the `aps` keys they become
// (docs/apns-protocol.md §H). Shared by device pushes (notification.ts) and broadcasts
// (broadcast.ts), which carry the same payload.

export const liveActivityEvents = ['start', 'update', 'end'] as const;
export type LiveActivityEvent = (typeof liveActivityEvents)[number];

/**
 * The largest UNIX time in seconds accepted (the year 2286). Apple's Live Activity dates are in
 * seconds; a value in milliseconds is a thousand times larger and is caught by this bound
 * instead of ending up as a date thousands of years ahead.
 */
export const maxUnixSeconds = 9_999_999_999;

export const unixSecondsSchema = z
  .number()
  .int()
  .min(0)
  .max(maxUnixSeconds, { message: 'a UNIX time in seconds (this looks like milliseconds)' });

/**
 * JSON objects a producer hands through (custom data, `content-state`, `attributes`) may nest
 * this deep at most. The payload is 4 KB anyway; the bound exists because serialising is
 * recursive, and 10,000 levels of `[[[…]]]` would overflow the stack.
 */
export const maxDataDepth = 32;

/** Nesting depth of a JSON value, without recursion (so a hostile value cannot overflow the stack). */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > maxDataDepth) return deepest;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** A JSON object handed through as it is, nesting bounded. */
export const jsonObjectSchema = z
  .record(z.string(), z.unknown())
  .refine((value) => jsonDepth(value) <= maxDataDepth, {
    message: `nests at most ${maxDataDepth} levels deep`,
  });

/** Custom keys placed beside `aps` in a payload: any JSON object but `aps`, which Pushfleet builds. */
export const customDataSchema = z
  .record(z.string(), z.unknown())
  .refine((data) => !('aps' in data), { message: 'custom data may not contain the key "aps"' })
  .refine((data) => jsonDepth(data) <= maxDataDepth, {
    message: `custom data nests at most ${maxDataDepth} levels deep`,
  });

/**
 * A channel ID as APNs hands it out (§F.3): standard padded base64. Apple promises no length;
 * 128 characters is the bound the simulator applies too.
 */
export const channelIdSchema = z
  .string()
  .min(4)
  .max(128)
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'a base64 channel id');

/**
 * The app's `ActivityAttributes` type name. It also names the push-to-start token registry's
 * keys, so no whitespace or ':'.
 */
export const attributesTypeSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\s:]+$/, 'an ActivityAttributes type name (no whitespace or ":")');

/**
 * An activity id as the producer names it (the app reports its activity's id with the activity's
 * token). It names the activity token registry's keys, so no whitespace or ':'.
 */
export const activityIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\s:]+$/, 'an activity id (no whitespace or ":")');

const localizedSchema = z
  .object({ locKey: z.string(), locArgs: z.array(z.string()).optional() })
  .strict()
  .describe('A localized string: the key in the app’s Localizable.strings and its arguments');

const laSoundSchema = z.union([
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
 * A Live Activity alert as Apple shows it: `title` and `body` (text, or a localization key with
 * arguments) and the `sound` inside the alert, not beside it (§H.2).
 */
export const liveActivityAlertSchema = z
  .object({
    title: z.union([z.string(), localizedSchema]),
    body: z.union([z.string(), localizedSchema]),
    sound: laSoundSchema.optional(),
  })
  .strict();

export type LiveActivityAlert = z.output<typeof liveActivityAlertSchema>;

/** The Live Activity fields of a notification (camelCase), as the schemas check them. */
export interface LiveActivityFields {
  event?: LiveActivityEvent | undefined;
  /** UNIX seconds of the state this push carries; the caller's now when absent. */
  timestamp?: number | undefined;
  contentState?: Record<string, unknown> | undefined;
  staleDate?: number | undefined;
  dismissalDate?: number | undefined;
  relevanceScore?: number | undefined;
  alert?: unknown;
  attributesType?: string | undefined;
  attributes?: Record<string, unknown> | undefined;
  inputPushToken?: boolean | undefined;
  inputPushChannel?: string | undefined;
}

/** Fields that only a `liveactivity` push carries; any other push type is refused with them. */
export const liveActivityOnlyFields = [
  'event',
  'timestamp',
  'contentState',
  'staleDate',
  'dismissalDate',
  'attributesType',
  'attributes',
  'inputPushToken',
  'inputPushChannel',
] as const satisfies readonly (keyof LiveActivityFields)[];

/** Fields only a `start` carries (the activity's fixed attributes, and how it is to be updated). */
export const startOnlyFields = [
  'attributesType',
  'attributes',
  'inputPushToken',
  'inputPushChannel',
] as const;

/**
 * Notification fields that are no part of a Live Activity payload (§H.2): ActivityKit reads
 * neither, so a push carrying them is a mistake the producer should hear about now.
 */
export const notLiveActivityFields = [
  'badge',
  'sound',
  'category',
  'threadId',
  'contentAvailable',
  'mutableContent',
  'contentChanged',
  'targetContentId',
  'interruptionLevel',
  'filterCriteria',
] as const;

/** One rule violation: the field (relative to the notification) and why. */
export interface FieldIssue {
  path: (string | number)[];
  message: string;
}

/** Whether an alert is in the Live Activity form (sound inside, or a localized title or body). */
export function isLiveActivityAlert(alert: unknown): boolean {
  if (typeof alert !== 'object' || alert === null) return false;
  const a = alert as Record<string, unknown>;
  return 'sound' in a || typeof a.title === 'object' || typeof a.body === 'object';
}

/**
 * The rules of a Live Activity payload that one field's schema cannot express (§H.2): every
 * push names its event and carries its content state; a start needs an alert and the activity's
 * attributes; a dismissal date ends, so only an end has one; the start-only fields stay on start.
 */
export function liveActivityIssues(n: LiveActivityFields): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const issue = (field: string, message: string) => issues.push({ path: [field], message });
  if (n.event === undefined) issue('event', 'a Live Activity push needs an event: start, update or end');
  if (n.contentState === undefined) {
    issue('contentState', 'a Live Activity push carries the activity’s content state');
  }
  if (n.alert !== undefined) {
    const alert = liveActivityAlertSchema.safeParse(n.alert);
    if (!alert.success) {
      const first = alert.error.issues[0]!;
      issues.push({
        path: ['alert', ...first.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
        message:
          typeof n.alert === 'string'
            ? 'a Live Activity alert is an object: { title, body, sound? }'
            : `a Live Activity alert has a title, a body and optionally a sound: ${first.message}`,
      });
    }
  }
  if (n.event === 'start') {
    if (n.alert === undefined) issue('alert', 'a start needs an alert (title and body)');
    if (n.attributesType === undefined) issue('attributesType', 'a start names its ActivityAttributes type');
    if (n.attributes === undefined) issue('attributes', 'a start carries the activity’s attributes');
    if (n.dismissalDate !== undefined) issue('dismissalDate', 'dismissalDate is only for event "end"');
    if (n.inputPushToken && n.inputPushChannel !== undefined) {
      issue(
        'inputPushChannel',
        'an activity is updated through its own token or through a channel: give inputPushToken or inputPushChannel, not both',
      );
    }
  } else if (n.event !== undefined) {
    for (const field of startOnlyFields) {
      if (n[field] !== undefined) issue(field, `${field} is only for event "start"`);
    }
    if (n.event === 'update' && n.dismissalDate !== undefined) {
      issue('dismissalDate', 'dismissalDate is only for event "end"');
    }
  }
  return issues;
}

function localized(value: string | { locKey: string; locArgs?: string[] | undefined }): unknown {
  if (typeof value === 'string') return value;
  return value.locArgs === undefined
    ? { 'loc-key': value.locKey }
    : { 'loc-key': value.locKey, 'loc-args': value.locArgs };
}

/**
 * The `aps` dictionary of a Live Activity push, keys in the order of Apple's examples (§H.4):
 * event, timestamp, attributes-type, attributes, content-state, stale-date, relevance-score,
 * alert, dismissal-date, input-push-token, input-push-channel. `now` (ms) stands in for an absent
 * timestamp. Validated input only (liveActivityIssues empty).
 */
export function buildLiveActivityAps(n: LiveActivityFields, now: number): Record<string, unknown> {
  const aps: Record<string, unknown> = {};
  aps.event = n.event;
  aps.timestamp = n.timestamp ?? Math.floor(now / 1000);
  if (n.attributesType !== undefined) aps['attributes-type'] = n.attributesType;
  if (n.attributes !== undefined) aps.attributes = n.attributes;
  if (n.contentState !== undefined) aps['content-state'] = n.contentState;
  if (n.staleDate !== undefined) aps['stale-date'] = n.staleDate;
  if (n.relevanceScore !== undefined) aps['relevance-score'] = n.relevanceScore;
  if (n.alert !== undefined) {
    const alert = n.alert as LiveActivityAlert;
    const out: Record<string, unknown> = { title: localized(alert.title), body: localized(alert.body) };
    if (alert.sound !== undefined) out.sound = alert.sound;
    aps.alert = out;
  }
  if (n.dismissalDate !== undefined) aps['dismissal-date'] = n.dismissalDate;
  if (n.inputPushToken) aps['input-push-token'] = 1;
  if (n.inputPushChannel !== undefined) aps['input-push-channel'] = n.inputPushChannel;
  return aps;
}

/**
 * Push types APNs takes on token (JWT) connections only: Live Activities (§H.1) and location
 * queries (§A.4). What a certificate connection gets is undocumented (the simulator answers 400
 * `BadTopic`, as for any topic a certificate does not list), so Pushfleet refuses such a push
 * when it is submitted, with `PF_ERR_TOKEN_AUTH_REQUIRED`, instead of queueing a push that can
 * only be rejected. Broadcasts and channel management (§F) take either kind of credentials.
 */
export const tokenAuthOnlyPushTypes: readonly PushType[] = ['liveactivity', 'location'];

export function requiresTokenAuth(pushType: PushType): boolean {
  return tokenAuthOnlyPushTypes.includes(pushType);
}

/**
 * Throws `PF_ERR_TOKEN_AUTH_REQUIRED` (400, field `notification.pushType` unless given) when an
 * app with certificate credentials submits a push type that needs token auth. The API calls it
 * with the app's credentials type before it accepts a notification or a campaign.
 */
export function assertPushTypeAllowed(
  pushType: PushType,
  credentialsType: 'token' | 'certificate',
  field = 'notification.pushType',
): void {
  if (credentialsType === 'certificate' && requiresTokenAuth(pushType)) {
    throw new PushfleetError(
      'PF_ERR_TOKEN_AUTH_REQUIRED',
      `${pushType} pushes need token (.p8) credentials; this app uses a certificate`,
      { field },
    );
  }
}
