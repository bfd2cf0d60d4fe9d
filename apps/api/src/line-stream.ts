import { StringDecoder } from 'node:string_decoder';
import { PushfleetError } from '@pushfleet/core';

export interface Line {
  /** 1-based line number in the body. */
  no: number;
  text: string;
}

/**
 * Splits a byte stream into lines, yielding them in arrays (one per chunk) so millions of lines
 * cost one await per chunk, not per line. Memory stays at one chunk plus one partial line; a
 * line longer than `maxLineBytes` is an error (a file without newlines must not fill memory).
 */
export async function* readLines(
  stream: AsyncIterable<Buffer | string>,
  maxLineBytes = 64 * 1024,
): AsyncGenerator<Line[]> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let no = 0;
  const lineOf = (raw: string): Line | null => {
    no++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    return text.trim() === '' ? null : { no, text: text.trim() };
  };
  for await (const chunk of stream) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    const parts = text.split('\n');
    rest = parts.pop()!;
    if (rest.length > maxLineBytes) {
      throw new PushfleetError('PF_ERR_VALIDATION', `line longer than ${maxLineBytes} bytes`, {
        field: `line.${no + 1}`,
      });
    }
    const lines: Line[] = [];
    for (const part of parts) {
      const line = lineOf(part);
      if (line) lines.push(line);
    }
    if (lines.length > 0) yield lines;
  }
  rest += decoder.end();
  const last = lineOf(rest);
  if (last) yield [last];
}

/** Parses one NDJSON line; a syntax error names the line. */
export function parseJsonLine(line: Line): unknown {
  try {
    return JSON.parse(line.text);
  } catch {
    throw new PushfleetError('PF_ERR_INVALID_JSON', `line ${line.no} is not valid JSON`, {
      field: `line.${line.no}`,
    });
  }
}
