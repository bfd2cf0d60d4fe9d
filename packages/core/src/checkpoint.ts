import type { SliceVerdict } from './verdict.ts';

/**
 * How far one deliver batch got, saved by the ledger with each slice's outcomes (one atomic
 * step), so a re-run after a crash resumes after the last recorded slice and counts nothing twice.
 */
export interface BatchCheckpoint {
  /** Index of the next token of the batch to send. */
  next: number;
  /** Tokens already sent that got a retryable answer: they go to the batch's retry job. */
  retry: string[];
  retryReason: string;
  /** Largest Retry-After (seconds) among them. */
  retryAfter?: number;
  /**
   * Which run wrote this checkpoint. A run that finds its own write already applied (a reply
   * lost, the command sent again) knows it is not a second runner.
   */
  run: string;
}

export function firstCheckpoint(run: string): BatchCheckpoint {
  return { next: 0, retry: [], retryReason: '', run };
}

/** The checkpoint after one more slice of `sliceLength` tokens, by the run `run`. */
export function advanceCheckpoint(
  cp: BatchCheckpoint,
  sliceLength: number,
  verdict: SliceVerdict,
  run: string,
): BatchCheckpoint {
  const next: BatchCheckpoint = {
    next: cp.next + sliceLength,
    retry: [...cp.retry, ...verdict.retry.tokens],
    retryReason: verdict.retry.tokens.length > 0 ? verdict.retry.reason : cp.retryReason,
    run,
  };
  const retryAfter = Math.max(cp.retryAfter ?? 0, verdict.retry.retryAfter ?? 0);
  if (retryAfter > 0) next.retryAfter = retryAfter;
  return next;
}

/** Tokens of a batch that have no outcome yet at this checkpoint: unsent ones and those waiting to retry. */
export function unsettledTokens(tokens: readonly string[], cp: BatchCheckpoint): string[] {
  return [...tokens.slice(cp.next), ...cp.retry];
}
