/**
 * Device tokens are opaque, variable-length byte strings sent as hex (Apple: "don't hard-code
 * their size"). Today they are 32 bytes; we accept 8..100 bytes, the frame format's upper bound.
 */
const tokenPattern = /^(?:[0-9a-fA-F]{2}){8,100}$/;

export function isValidDeviceToken(token: unknown): token is string {
  return typeof token === 'string' && tokenPattern.test(token);
}

/** Lower-case form used as the identity of a token everywhere (registry, dedup, feedback). */
export function normalizeDeviceToken(token: string): string {
  return token.toLowerCase();
}

/** Logs never carry full tokens: first 8 and last 4 hex characters are enough to correlate. */
export function shortenToken(token: string): string {
  return token.length <= 16 ? '…' : `${token.slice(0, 8)}…${token.slice(-4)}`;
}
