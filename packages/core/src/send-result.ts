/**
 * What one APNs request came to. A send result is a value, never an exception: the delivery
 * core classifies each one with the reason table. Transports (packages/apns) produce these.
 */
export type SendResult =
  | { kind: 'accepted'; apnsId: string | undefined }
  | {
      kind: 'rejected';
      status: number;
      reason: string;
      /** Apple's 410 timestamp (ms since the epoch). */
      invalidAt?: number;
      /** Seconds, from a Retry-After header. */
      retryAfter?: number;
    }
  | {
      kind: 'failed';
      /** Short, safe text (never key material): for logs. */
      error: string;
      /** The app's credentials could not be used (unreadable key, refused certificate). */
      credentials?: true;
    };
