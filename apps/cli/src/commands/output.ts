/** Human output by default, `--json` for scripts: one JSON document on stdout, progress on stderr. */
export interface Output {
  json: boolean;
  result(human: string, data: unknown): void;
  progress(line: string): void;
  endProgress(): void;
}

export function createOutput(json: boolean): Output {
  const tty = process.stderr.isTTY === true;
  let lastPlain = 0;
  let open = false;
  return {
    json,
    result(human, data) {
      process.stdout.write(json ? `${JSON.stringify(data)}\n` : `${human}\n`);
    },
    progress(line) {
      if (tty) {
        process.stderr.write(`\r${line}\x1b[K`);
        open = true;
      } else if (Date.now() - lastPlain > 2000) {
        // Not a terminal (CI logs): a plain line every two seconds instead of a redrawn bar.
        process.stderr.write(`${line}\n`);
        lastPlain = Date.now();
      }
    },
    endProgress() {
      if (open) process.stderr.write('\n');
      open = false;
    },
  };
}

const fmt = new Intl.NumberFormat('en-US');
export const num = (n: number) => fmt.format(Math.round(n));

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60
    ? `${m}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${m % 60}m`;
}

/** `[#######-------]  48%  480,000/1,000,000  52,000/s  ETA 10s` */
export function progressBar(done: number, total: number, perSecond: number, width = 28): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(ratio * width);
  const eta = perSecond > 0 ? (total - done) / perSecond : Number.POSITIVE_INFINITY;
  return (
    `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ` +
    `${num(done)}/${num(total)}  ${num(perSecond)}/s  ETA ${duration(eta)}`
  );
}
