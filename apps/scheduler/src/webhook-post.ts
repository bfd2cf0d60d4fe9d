import { signWebhook, webhookSignatureHeader, webhookTimestampHeader } from '@pushfleet/store';
import type { WebhookTarget } from './webhook-queue.ts';

/** POSTs one signed body; resolves on 2xx, throws with the status (or network error) otherwise. */
export async function postWebhook(target: WebhookTarget, body: string, now = Date.now()): Promise<void> {
  const timestamp = String(Math.floor(now / 1000));
  const res = await fetch(target.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'pushfleet-feedback-webhook',
      [webhookTimestampHeader]: timestamp,
      [webhookSignatureHeader]: signWebhook(target.secret, timestamp, body),
    },
    body,
    signal: AbortSignal.timeout(target.timeoutMs),
  });
  // Read the body so the connection can be reused; its content is the receiver's business.
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status >= 300) throw new Error(`webhook answered HTTP ${res.status}`);
}
