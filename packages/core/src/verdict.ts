import { addEnded, localReasons, noOutcomes, type StepOutcomes } from './outcome.ts';
import { actionFor } from './reasons.ts';
import type { SendResult } from './send-result.ts';

/** What one send of a slice came to: terminal outcomes, plus the tokens to try again later. */
export interface SliceVerdict {
  outcomes: StepOutcomes;
  retry: RetryTokens;
  /** Set when the app's credentials were refused: the app × environment pauses. */
  credentialsFailure: string | undefined;
}

export interface RetryTokens {
  tokens: string[];
  /** The last retryable reason seen: what the tokens fail with when attempts run out. */
  reason: string;
  /** The largest Retry-After (seconds) APNs asked for. */
  retryAfter: number | undefined;
}

function addRetry(retry: RetryTokens, token: string, reason: string, retryAfter?: number): void {
  retry.tokens.push(token);
  retry.reason = reason;
  if (retryAfter !== undefined) retry.retryAfter = Math.max(retry.retryAfter ?? 0, retryAfter);
}

/**
 * Turns per-token results into outcomes with the reason table. Retryable answers (429, 5xx,
 * timeouts, lost connections) and credentials refusals are collected for a later attempt, never
 * counted as terminal here.
 */
export function classifyResults(
  tokens: readonly string[],
  results: readonly SendResult[],
  now: number,
): SliceVerdict {
  const outcomes = noOutcomes();
  const retry: RetryTokens = { tokens: [], reason: '', retryAfter: undefined };
  const rejected = new Map<string, string[]>();
  let credentialsFailure: string | undefined;
  results.forEach((result, i) => {
    const token = tokens[i]!;
    if (result.kind === 'accepted') {
      outcomes.delivered++;
      return;
    }
    if (result.kind === 'failed') {
      if (result.credentials) credentialsFailure = localReasons.credentials;
      addRetry(retry, token, result.credentials ? localReasons.credentials : localReasons.connection);
      return;
    }
    switch (actionFor(result.status, result.reason)) {
      case 'invalidate-token':
        outcomes.invalidated.push({ token, reason: result.reason, timestamp: result.invalidAt ?? now });
        rejected.set(result.reason, [...(rejected.get(result.reason) ?? []), token]);
        return;
      case 'reject':
        rejected.set(result.reason, [...(rejected.get(result.reason) ?? []), token]);
        return;
      case 'credentials':
        // Not the token's fault: it waits (with the app paused) for the credentials to be fixed.
        credentialsFailure = result.reason;
        addRetry(retry, token, result.reason);
        return;
      case 'retry':
      case 'refresh-token':
        addRetry(retry, token, result.reason, result.retryAfter);
        return;
    }
  });
  for (const [reason, list] of rejected) addEnded(outcomes, 'rejected', reason, list);
  return { outcomes, retry, credentialsFailure };
}
