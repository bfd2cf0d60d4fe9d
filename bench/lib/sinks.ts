import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startSimulatorProcess, waitFor } from '@pushfleet/testkit';
import { createCertificateAuthority, createServerCertificate } from '../../apps/apns-sim/src/tls-material.ts';
import { benchTokens } from './bench-tokens.ts';

export interface Sink {
  name: string;
  port: number;
  caFile: string;
  pid: number;
  stop(): Promise<void>;
}

export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The simulator in fast mode: always 200, no parsing — the benchmark sink. */
export async function simulatorSink(): Promise<Sink> {
  const sim = await startSimulatorProcess({ mode: 'fast' });
  return {
    name: 'apns-sim fast',
    port: sim.port,
    caFile: sim.caFile,
    pid: sim.process.pid!,
    stop: async () => void (await sim.stop()),
  };
}

/**
 * nghttpd (C, nghttp2) over TLS, serving an empty file at /3/device/<token> for each bench token:
 * a sink far cheaper than any Node server, so the client's own cost shows.
 */
export async function nghttpdSink(): Promise<Sink | undefined> {
  if (!hasCommand('nghttpd')) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-nghttpd-'));
  const docroot = join(dir, 'www');
  mkdirSync(join(docroot, '3', 'device'), { recursive: true });
  for (const token of benchTokens()) writeFileSync(join(docroot, '3', 'device', token), '');
  const ca = createCertificateAuthority();
  const server = createServerCertificate(ca);
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'cert.pem'), server.certPem);
  writeFileSync(join(dir, 'key.pem'), server.keyPem);
  const port = await freePort();
  const child: ChildProcess = spawn(
    'nghttpd',
    [
      '--address=127.0.0.1',
      '-d',
      docroot,
      '--max-concurrent-streams=1000',
      String(port),
      join(dir, 'key.pem'),
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(
    `nghttpd on ${port}`,
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      }),
  );
  return {
    name: 'nghttpd',
    port,
    caFile: join(dir, 'ca.pem'),
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
