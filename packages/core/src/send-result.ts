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
      /** Short and safe to log: never key material, a passphrase or a full device token. */
      error: string;
      /**
       * The app × environment's credentials cannot be used (unreadable or unparseable key or
       * certificate, wrong passphrase, TLS handshake refused for the certificate): every send will
       * fail the same way until they are fixed, so the worker pauses that app × environment.
       */
      credentials?: true;
    };
