import { createHash } from 'node:crypto';

/** One accepted notification, as recorded for tests. */
export interface Delivery {
  apnsId: string;
  /** The request headers that matter to APNs (apns-*, no authorization). */
  headers: Record<string, string>;
  /** Parsed JSON, or the raw text when the body was not JSON. */
  payload: unknown;
  /** The body exactly as received (UTF-8 text), for byte-for-byte checks of what a client built. */
  body: string;
  receivedAt: number;
  /** 'h2' for the HTTP/2 API, 'legacy' for the binary gateway. */
  via: 'h2' | 'legacy';
}

interface TokenLog {
  deliveries: Delivery[];
  ids: Set<string>;
  payloadHashes: Set<string>;
  duplicates: number;
}

/**
 * Accepted notifications per token, in order, with duplicate detection so tests can assert
 * exactly-once delivery. A send is a duplicate when the same token already accepted the same
 * client-supplied apns-id or the same payload bytes.
 */
export class DeliveryLog {
  private readonly byToken = new Map<string, TokenLog>();
  total = 0;
  duplicates = 0;

  record(token: string, delivery: Delivery, rawPayload: Buffer, clientApnsId: string | undefined): void {
    let log = this.byToken.get(token);
    if (!log) {
      log = { deliveries: [], ids: new Set(), payloadHashes: new Set(), duplicates: 0 };
      this.byToken.set(token, log);
    }
    const hash = createHash('sha1').update(rawPayload).digest('base64');
    const duplicate =
      (clientApnsId !== undefined && log.ids.has(clientApnsId)) || log.payloadHashes.has(hash);
    if (duplicate) {
      this.duplicates++;
      log.duplicates++;
    }
    if (clientApnsId !== undefined) log.ids.add(clientApnsId);
    log.payloadHashes.add(hash);
    log.deliveries.push(delivery);
    this.total++;
  }

  forToken(token: string): Delivery[] {
    return this.byToken.get(token.toLowerCase())?.deliveries ?? [];
  }

  summary(): { tokens: number; deliveries: number; duplicateTokens: number; duplicates: number } {
    let duplicateTokens = 0;
    for (const log of this.byToken.values()) if (log.duplicates > 0) duplicateTokens++;
    return {
      tokens: this.byToken.size,
      deliveries: this.total,
      duplicateTokens,
      duplicates: this.duplicates,
    };
  }

  clear(): void {
    this.byToken.clear();
    this.total = 0;
    this.duplicates = 0;
  }
}
