import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bodyLength, devicePaths } from './check.ts';
import { startServer, systemPython } from './process.ts';
import type { InteropServer } from './servers.ts';
import { freePort, peersDir, type Workdir } from './workdir.ts';

/** One line of the peer's stdout (see peers/h2_peer.py). */
export interface PeerEvent {
  e: string;
  conn?: number;
  stream?: number;
  path?: string;
  status?: number | string;
  code?: number;
  t: number;
  [key: string]: unknown;
}

export interface PeerSettings {
  mode?: string;
  /** Requests answered on the first connection before the misbehaviour (goaway, lower-streams, …). */
  after?: number;
  delayMs?: number;
  maxStreams?: number;
  initialWindow?: number;
  connWindow?: number;
  headerTableSize?: number;
  maxFrameSize?: number;
}

export interface H2Peer extends InteropServer {
  events(): PeerEvent[];
}

/** Starts peers/h2_peer.py, a python-h2 server scripted to behave well or badly. */
export async function startPeer(work: Workdir, s: PeerSettings, label: string): Promise<H2Peer> {
  const port = await freePort();
  const args = [
    join(peersDir, 'h2_peer.py'),
    ...['--port', String(port), '--cert', work.certFile, '--key', work.keyFile],
    ...['--mode', s.mode ?? 'normal', '--body-len', String(bodyLength)],
  ];
  const flags: [string, number | undefined][] = [
    ['--after', s.after],
    ['--delay-ms', s.delayMs],
    ['--max-streams', s.maxStreams],
    ['--initial-window', s.initialWindow],
    ['--conn-window', s.connWindow],
    ['--header-table-size', s.headerTableSize],
    ['--max-frame-size', s.maxFrameSize],
  ];
  for (const [flag, value] of flags) if (value !== undefined) args.push(flag, String(value));
  const server = await startServer({
    name: `h2_peer ${label}`,
    command: systemPython,
    args,
    port,
    cwd: work.dir,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    logFile: work.path(`h2-peer-${label}.log`),
  });
  const events = () =>
    server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as PeerEvent);
  const answered = () =>
    devicePaths(
      events()
        .filter((e) => e.e === 'answered')
        .map((e) => e.path)
        .join('\n'),
    );
  // python-h2 raises on any protocol violation by the client (h2-error); the peer itself counts
  // streams opened beyond an acknowledged SETTINGS_MAX_CONCURRENT_STREAMS.
  const verify = () => {
    const violations = events().filter((e) => e.e === 'h2-error' || e.e === 'stream-limit-exceeded');
    assert.deepEqual(violations, [], 'the client broke a rule the python-h2 server checks');
  };
  return { ...server, events, expect: { apnsId: 'uuid', errors: true, serverSaw: answered, verify } };
}
