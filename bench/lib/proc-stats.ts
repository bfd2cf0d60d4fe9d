import { readFileSync } from 'node:fs';

const ticksPerSecond = 100; // Linux USER_HZ; stable across the kernels this runs on

/** CPU time (µs, user + system) a process has used so far, from /proc/<pid>/stat. */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1_000_000) / ticksPerSecond;
}

/** Peak resident set size (bytes) of a live process, from /proc/<pid>/status VmHWM. */
export function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = status.match(/VmHWM:\s+(\d+) kB/);
  return match ? Number(match[1]) * 1024 : 0;
}
