import { readFileSync } from 'node:fs';

/** Resident set size and its high-water mark (VmHWM) of a process, in bytes (Linux /proc). */
export function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Deterministic distinct tokens without holding them: token i = 32 bytes from i and a run salt. */
export function* tokenStream(count: number, salt: number): Generator<string> {
  const head = salt.toString(16).padStart(8, '0');
  for (let i = 0; i < count; i++) yield `${head}${i.toString(16).padStart(56, '0')}`;
}

export const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
