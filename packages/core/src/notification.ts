import { z } from 'zod';
import { type PushType, pushTypes } from './push-type.ts';

const utf8Bytes = (value: string) => Buffer.byteLength(value, 'utf8');

/**
 * Custom data may nest this deep at most. The payload is 4 KB anyway; the bound exists because
 * serialising is recursive, and 10,000 levels of `[[[…]]]` would overflow the stack.
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
    relevanceScore: z.number().min(0).max(1).optional(),
    filterCriteria: z.string().optional(),
    /** Custom keys placed beside `aps` in the payload. */
    data: z
      .record(z.string(), z.unknown())
      .refine((data) => !('aps' in data), { message: 'custom data may not contain the key "aps"' })
      .refine((data) => jsonDepth(data) <= maxDataDepth, {
        message: `custom data nests at most ${maxDataDepth} levels deep`,
      })
      .optional(),
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
  .strict();

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

/** Builds the wire form. Pure: the caller checks the size against the push type's limit. */
export function prepareNotification(n: Notification, topic: string): PreparedNotification {
  const headers: PreparedHeaders = { 'apns-push-type': n.pushType, 'apns-topic': topic };
  // Apple: background pushes must use priority 5; sending 10 is an error.
  const priority = n.priority ?? (n.pushType === 'background' ? 5 : undefined);
  if (priority !== undefined) headers['apns-priority'] = String(priority);
  if (n.expiration !== undefined) headers['apns-expiration'] = String(n.expiration);
  if (n.collapseId !== undefined) headers['apns-collapse-id'] = n.collapseId;
  if (n.apnsId !== undefined) headers['apns-id'] = n.apnsId;
  const payload = JSON.stringify({ ...n.data, aps: buildAps(n) });
  return { headers, payload };
}

export function payloadBytes(prepared: PreparedNotification): number {
  return utf8Bytes(prepared.payload);
}

/** True when an `apns-expiration` in the past means APNs would drop it anyway. */
export function hasExpired(prepared: PreparedNotification, nowMs: number): boolean {
  const expiration = Number(prepared.headers['apns-expiration'] ?? 0);
  return expiration > 0 && expiration * 1000 < nowMs;
}
