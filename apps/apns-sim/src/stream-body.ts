import type { ServerHttp2Stream } from 'node:http2';

/** A request body as received: the first `maxKept` bytes, and how many bytes arrived in all. */
export interface ReceivedBody {
  body: Buffer;
  /** Bytes received, which may exceed body.length when the body was too large to keep. */
  length: number;
}

/**
 * Reads a stream's body, keeping at most `maxKept` bytes so an oversized body is measured
 * exactly without being held, and calls `onEnd` once it has all arrived.
 */
export function readBody(
  stream: ServerHttp2Stream,
  maxKept: number,
  onEnd: (body: ReceivedBody) => void,
): void {
  const chunks: Buffer[] = [];
  let length = 0;
  stream.on('data', (chunk: Buffer) => {
    length += chunk.length;
    if (length <= maxKept) chunks.push(chunk);
  });
  stream.on('end', () => onEnd({ body: Buffer.concat(chunks), length }));
}

export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Parsed JSON, or the text itself when it is not JSON. */
export function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
