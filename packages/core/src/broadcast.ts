import { z } from 'zod';
import type { MessageStoragePolicy } from './channel.ts';
import { PushfleetError } from './errors.ts';
import {
  buildLiveActivityAps,
  customDataSchema,
  jsonObjectSchema,
  liveActivityAlertSchema,
  liveActivityIssues,
  unixSecondsSchema,
} from './live-activity.ts';
import { parseOrThrow } from './requests.ts';

// Broadcast push (docs/apns-protocol.md §F.2): one request updates or ends every Live Activity
// subscribed to a channel. The payload is a Live Activity payload (§H.2); the headers are the
// broadcast's own: no topic, the channel id beside them (added by the transport), and
// `apns-priority` and `apns-expiration` both required.

/** The largest broadcast body (§A.5, §F.2). */
export const broadcastPayloadLimit = 5120;

/**
 * How long APNs keeps a stored-message (policy 1) channel's latest message at most (§F.3): the
 * default expiration of a broadcast to such a channel, so devices that were offline get it.
 */
export const storedMessageSeconds = 8 * 3600;

/** Priority of a broadcast that names none; the header is required (§F.2), and 10 is APNs' own default. */
export const defaultBroadcastPriority = 10;

export const broadcastNotificationSchema = z
  .object({
    /** Always `liveactivity`; accepted so a device push's notification can be reused as is. */
    pushType: z.literal('liveactivity').optional(),
    /** A broadcast reaches running activities only: it updates or ends them, never starts one. */
    event: z.enum(['update', 'end'], {
      error: 'a broadcast updates or ends activities: event is "update" or "end"',
    }),
    timestamp: unixSecondsSchema.optional(),
    contentState: jsonObjectSchema,
    staleDate: unixSecondsSchema.optional(),
    /** `end` only. */
    dismissalDate: unixSecondsSchema.optional(),
    relevanceScore: z.number().optional(),
    alert: liveActivityAlertSchema.optional(),
    data: customDataSchema.optional(),
    priority: z.union([z.literal(10), z.literal(5), z.literal(1)]).optional(),
    /**
     * UNIX seconds; must be 0 on a channel that stores no message (policy 0). Default: 0 there,
     * now + 8 hours on a stored-message channel.
     */
    expiration: z.number().int().min(0).optional(),
    /** Sent as `apns-request-id`, which APNs echoes (a lower-case UUID). */
    requestId: z
      .string()
      .regex(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        'requestId must be a lower-case UUID',
      )
      .optional(),
  })
  .strict()
  .superRefine((n, ctx) => {
    for (const issue of liveActivityIssues(n)) ctx.addIssue({ code: 'custom', ...issue });
  });

export type BroadcastNotificationInput = z.input<typeof broadcastNotificationSchema>;
export type BroadcastNotification = z.output<typeof broadcastNotificationSchema>;

export const broadcastRequestSchema = z.object({ notification: broadcastNotificationSchema }).strict();

/** A broadcast's headers, minus `authorization`, `:path` and `apns-channel-id` (the transport's). */
export interface PreparedBroadcastHeaders {
  'apns-push-type': 'liveactivity';
  'apns-priority': string;
  'apns-expiration': string;
  'apns-request-id'?: string;
}

/** A broadcast ready for the wire, for any channel of its app with the storage policy it was checked against. */
export interface PreparedBroadcast {
  /** The plain bundle id: the path is `/4/broadcasts/apps/<bundleId>` (a suffix is TopicDisallowed). */
  bundleId: string;
  headers: PreparedBroadcastHeaders;
  /** The serialized JSON body, byte for byte what APNs receives. */
  payload: string;
}

/** What a broadcast is checked against: the app, and the storage policy of the channel it goes to. */
export interface BroadcastChannel {
  bundleId: string;
  storagePolicy: MessageStoragePolicy;
}

/**
 * Builds a broadcast's wire form once and checks what the channel demands: expiration 0 on a
 * channel that stores no message (else APNs answers BadExpirationDate), and at most 5120 bytes.
 * `now` (ms) stamps a missing timestamp and the default expiration. Throws PushfleetError
 * (`PF_ERR_VALIDATION` naming `<field>.expiration`, `PF_ERR_PAYLOAD_TOO_LARGE`).
 */
export function prepareBroadcast(
  n: BroadcastNotification,
  channel: BroadcastChannel,
  now = Date.now(),
  field = 'notification',
): PreparedBroadcast {
  if (channel.storagePolicy === 0 && n.expiration !== undefined && n.expiration !== 0) {
    throw new PushfleetError(
      'PF_ERR_VALIDATION',
      'a channel that stores no message (storage policy 0) takes only expiration 0',
      { field: `${field}.expiration` },
    );
  }
  const expiration =
    n.expiration ?? (channel.storagePolicy === 0 ? 0 : Math.floor(now / 1000) + storedMessageSeconds);
  const headers: PreparedBroadcastHeaders = {
    'apns-push-type': 'liveactivity',
    'apns-priority': String(n.priority ?? defaultBroadcastPriority),
    'apns-expiration': String(expiration),
  };
  if (n.requestId !== undefined) headers['apns-request-id'] = n.requestId;
  const payload = JSON.stringify({ ...n.data, aps: buildLiveActivityAps(n, now) });
  const bytes = Buffer.byteLength(payload, 'utf8');
  if (bytes > broadcastPayloadLimit) {
    throw new PushfleetError(
      'PF_ERR_PAYLOAD_TOO_LARGE',
      `payload is ${bytes} bytes; the broadcast limit is ${broadcastPayloadLimit}`,
      { field },
    );
  }
  return { bundleId: channel.bundleId, headers, payload };
}

/**
 * Validates a broadcast request body (`{ notification }`) completely and prepares it for the
 * channel: nothing touches Redis or APNs before this passed.
 */
export function validateBroadcastRequest(
  body: unknown,
  channel: BroadcastChannel,
  now = Date.now(),
): PreparedBroadcast {
  const { notification } = parseOrThrow(broadcastRequestSchema, body);
  return prepareBroadcast(notification, channel, now);
}
