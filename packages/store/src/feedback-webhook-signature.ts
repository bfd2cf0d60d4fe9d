import { createHmac, timingSafeEqual } from 'node:crypto';

export const webhookTimestampHeader = 'x-pushfleet-timestamp';
export const webhookSignatureHeader = 'x-pushfleet-signature';

/** `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`: the timestamp is signed too, so a replay is visible. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface VerifyWebhookOptions {
  /** Reject timestamps (unix seconds) further than this from `now` (default 300; 0 = no check). */
  toleranceSeconds?: number;
  now?: number;
}

/**
 * For integrators: checks a feedback webhook's `x-pushfleet-signature` against the raw body and
 * `x-pushfleet-timestamp` (unix seconds), in constant time, and that the timestamp is recent.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | undefined,
  body: string,
  header: string | undefined,
  options: VerifyWebhookOptions = {},
): boolean {
  if (!timestamp || !header || !/^\d{1,12}$/.test(timestamp)) return false;
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (tolerance > 0 && Math.abs(nowSeconds - Number(timestamp)) > tolerance) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
