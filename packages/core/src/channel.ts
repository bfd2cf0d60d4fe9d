import { z } from 'zod';
import { broadcastActionFor } from './broadcast-reasons.ts';
import { type Environment, environments } from './environment.ts';
import { PushfleetError } from './errors.ts';
import { jsonDepth } from './live-activity.ts';

// Broadcast channels (docs/apns-protocol.md §F.3) as Pushfleet keeps them: APNs hands out an
// opaque base64 id; producers address a channel by a name of their own, kept with the id, its
// environment, its storage policy and their metadata (packages/store ChannelStore).

/**
 * `0`: no message stored (a larger publishing budget; every broadcast has expiration 0).
 * `1`: the most recent message is stored, for up to 8 hours. Fixed when the channel is made.
 */
export type MessageStoragePolicy = 0 | 1;
export const messageStoragePolicySchema = z.union([z.literal(0), z.literal(1)]);

/** APNs allows this many channels per app and environment (§F.3). */
export const channelLimitPerEnvironment = 10_000;

/** A producer's name for a channel: it appears in URLs, so letters, digits and `.` `_` `~` `-`. */
export const channelNameSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._~-]+$/, 'letters, digits, ".", "_", "~" and "-"');

/** Metadata a producer keeps with a channel (a JSON object of at most 4 KB). */
export const maxChannelMetadataBytes = 4096;
export const channelMetadataSchema = z
  .record(z.string(), z.unknown())
  .refine((m) => jsonDepth(m) <= 8, { message: 'metadata nests at most 8 levels deep' })
  .refine((m) => Buffer.byteLength(JSON.stringify(m), 'utf8') <= maxChannelMetadataBytes, {
    message: `metadata is at most ${maxChannelMetadataBytes} bytes of JSON`,
  });

export const channelCreateRequestSchema = z
  .object({
    name: channelNameSchema,
    environment: z.enum(environments).optional(),
    /** Default 1: the latest message reaches devices that were offline when it was sent. */
    messageStoragePolicy: messageStoragePolicySchema.default(1),
    metadata: channelMetadataSchema.optional(),
  })
  .strict();

export type ChannelCreateRequest = z.input<typeof channelCreateRequestSchema>;

/** A channel Pushfleet manages: the producer's name for it and what APNs made. */
export interface ChannelRecord {
  name: string;
  /** APNs' id (base64), as the channel-management API answered it. */
  channelId: string;
  environment: Environment;
  storagePolicy: MessageStoragePolicy;
  metadata: Record<string, unknown>;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** A channel-management answer that is not a success, as the channel client reports it. */
export type ChannelFailure =
  | { kind: 'rejected'; status: number; reason: string; retryAfter?: number }
  | { kind: 'failed'; error: string; credentials?: true };

/**
 * The API error for a channel-management request APNs did not carry out: the channel limit is
 * `PF_ERR_CHANNEL_LIMIT` (409), an unknown channel `PF_ERR_NOT_FOUND` (404), anything to retry
 * later (throttled, APNs down, no connection) `PF_ERR_APNS_UNAVAILABLE` (503; pass the failure's
 * `retryAfter` on as Retry-After), any other refusal `PF_ERR_APNS_REJECTED` (502) naming APNs'
 * reason.
 */
export function channelFailureError(failure: ChannelFailure): PushfleetError {
  if (failure.kind === 'failed') {
    return failure.credentials
      ? new PushfleetError('PF_ERR_APNS_REJECTED', `the app's credentials cannot be used: ${failure.error}`)
      : new PushfleetError('PF_ERR_APNS_UNAVAILABLE', `APNs could not be reached: ${failure.error}`);
  }
  const { status, reason } = failure;
  switch (broadcastActionFor(status, reason)) {
    case 'channel-limit':
      return new PushfleetError('PF_ERR_CHANNEL_LIMIT');
    case 'channel-gone':
      return new PushfleetError('PF_ERR_NOT_FOUND', `APNs does not know this channel (${reason})`);
    case 'retry':
    case 'refresh-token':
      return new PushfleetError('PF_ERR_APNS_UNAVAILABLE', `APNs answered ${status} ${reason}; retry later`);
    default:
      return new PushfleetError('PF_ERR_APNS_REJECTED', `APNs refused the request: ${status} ${reason}`);
  }
}
