import type { SendResult } from '@pushfleet/apns';
import { actionFor } from '@pushfleet/core';
import { emptyOutcomeCounts, type OutcomeCounts } from '@pushfleet/store';

/** What one send of a batch came to: terminal counts, plus the tokens to try again. */
export interface BatchVerdict {
  counts: OutcomeCounts;
  retry: { tokens: string[]; lastReason: string; retryAfter: number | undefined };
  credentialsFailure: string | undefined;
}

function bump(map: Record<string, number>, reason: string): void {
  map[reason] = (map[reason] ?? 0) + 1;
}

/**
 * Turns per-token results into outcomes with core's reason table. Retryable answers (429, 5xx,
 * timeouts, lost connections) are collected for a later attempt, never counted as terminal here.
 */
export function classifyResults(
  tokens: readonly string[],
  results: readonly SendResult[],
  now: number,
): BatchVerdict {
  const counts = emptyOutcomeCounts();
  const retry: BatchVerdict['retry'] = { tokens: [], lastReason: '', retryAfter: undefined };
  let credentialsFailure: string | undefined;
  results.forEach((result, i) => {
    const token = tokens[i]!;
    if (result.kind === 'accepted') {
      counts.delivered++;
      return;
    }
    if (result.kind === 'failed') {
      retry.tokens.push(token);
      retry.lastReason = 'ConnectionError';
      return;
    }
    switch (actionFor(result.status, result.reason)) {
      case 'invalidate-token':
        bump(counts.rejected, result.reason);
        counts.invalidated.push({ token, reason: result.reason, timestamp: result.invalidAt ?? now });
        return;
      case 'reject':
        bump(counts.rejected, result.reason);
        return;
      case 'credentials':
        // Not the token's fault: it waits (with the app paused) for the credentials to be fixed.
        credentialsFailure = result.reason;
        retry.tokens.push(token);
        retry.lastReason = result.reason;
        return;
      case 'retry':
      case 'refresh-token':
        retry.tokens.push(token);
        retry.lastReason = result.reason;
        if (result.retryAfter !== undefined) {
          retry.retryAfter = Math.max(retry.retryAfter ?? 0, result.retryAfter);
        }
        return;
    }
  });
  return { counts, retry, credentialsFailure };
}
