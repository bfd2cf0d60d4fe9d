import { createHash } from 'node:crypto';

export const benchTopic = 'com.example.pushfleet.demo';

/** The same 1000 tokens in every contender and sink (nghttpd serves one empty file per token). */
export function benchTokens(): string[] {
  return Array.from({ length: 1000 }, (_, i) =>
    createHash('sha256').update(`bench-token-${i}`).digest('hex'),
  );
}
