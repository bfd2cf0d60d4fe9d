import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, repoRoot, startSimulatorProcess, waitFor } from '@pushfleet/testkit';
import { createCertificateAuthority, createServerCertificate } from '../../apps/apns-sim/src/tls-material.ts';
import { benchTokens } from './bench-tokens.ts';

export interface Sink {
  name: string;
  port: number;
  caFile: string;
  pid: number;
  stop(): Promise<void>;
}

/** nginx as bench/install-tools.sh unpacks it into .tools/, else one on the PATH. */
export function nginxBinary(): string | undefined {
  const unpacked = join(repoRoot, '.tools', 'nginx', 'usr', 'sbin', 'nginx');
  if (existsSync(unpacked)) return unpacked;
  return hasCommand('nginx') ? 'nginx' : undefined;
}

export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function waitForPort(port: number, what: string): Promise<unknown> {
  return waitFor(
    `${what} on ${port}`,
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      }),
  );
}

interface SinkTls {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A temporary directory with a fresh CA and a loopback server certificate: a C sink's TLS. */
function sinkTls(name: string): SinkTls {
  const dir = mkdtempSync(join(tmpdir(), `pushfleet-${name}-`));
  const ca = createCertificateAuthority();
  const server = createServerCertificate(ca);
  const files = {
    caFile: join(dir, 'ca.pem'),
    certFile: join(dir, 'cert.pem'),
    keyFile: join(dir, 'key.pem'),
  };
  writeFileSync(files.caFile, ca.certPem);
  writeFileSync(files.certFile, server.certPem);
  writeFileSync(files.keyFile, server.keyPem);
  return { dir, ...files };
}

/** Runs a sink process until it answers on `port`; `stop` signals it (once) and waits for its exit. */
async function runSinkProcess(command: string, args: string[], port: number, name: string) {
  const child: ChildProcess = spawn(command, args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, name);
  return {
    pid: child.pid!,
    async stop(signal: NodeJS.Signals) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
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
 * The simulator as APNs behaves at a distance: validating (it authenticates the provider token,
 * which the one-stream start needs), one stream per token connection until its first
 * authenticated request (`--token-initial-streams 1`), and every answer `rttMs` late.
 */
export async function simulatorRttSink(
  rttMs: number,
  key: { keyId: string; teamId: string; publicKeyPem: string },
): Promise<Sink> {
  const sim = await startSimulatorProcess({ args: ['--token-initial-streams', '1'] });
  await sim.control.addKey({ keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
  if (rttMs > 0) await sim.control.addFault({ latencyMs: rttMs });
  return {
    name: `apns-sim ${rttMs} ms`,
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
  const tls = sinkTls('nghttpd');
  const docroot = join(tls.dir, 'www');
  mkdirSync(join(docroot, '3', 'device'), { recursive: true });
  for (const token of benchTokens()) writeFileSync(join(docroot, '3', 'device', token), '');
  const port = await freePort();
  const args = ['--address=127.0.0.1', '-d', docroot, '--max-concurrent-streams=1000'];
  const proc = await runSinkProcess(
    'nghttpd',
    [...args, String(port), tls.keyFile, tls.certFile],
    port,
    'nghttpd',
  );
  return {
    name: 'nghttpd',
    port,
    caFile: tls.caFile,
    pid: proc.pid,
    stop: async () => {
      await proc.stop('SIGTERM');
      rmSync(tls.dir, { recursive: true, force: true });
    },
  };
}

export interface CountingSink extends Sink {
  /** Stops the sink and counts what it answered 200, from its access log. */
  stopAndCount(): Promise<{ accepted: number; distinctTokens: number }>;
}

/**
 * nginx (C, one worker process) over TLS answering 200 to every POST, logging each request's
 * path: a sink about ten times cheaper than the simulator that still counts, token by token,
 * what it accepted — so a campaign of random tokens can be checked for exactly-once delivery.
 */
export async function nginxSink(): Promise<CountingSink | undefined> {
  const binary = nginxBinary();
  if (!binary) return undefined;
  const tls = sinkTls('nginx');
  const dir = tls.dir;
  const port = await freePort();
  const accessLog = join(dir, 'access.log');
  const temp = (name: string) => `${name}_temp_path ${join(dir, name)};`;
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      'worker_processes 1; daemon off; master_process off;',
      `error_log stderr warn; pid ${join(dir, 'nginx.pid')};`,
      'events { worker_connections 1024; }',
      'http {',
      "  log_format tokens '$uri $status';",
      `  access_log ${accessLog} tokens buffer=256k;`,
      `  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join(' ')}`,
      // APNs keeps a connection for as long as the provider wants: no request cap, no idle close.
      '  keepalive_requests 1000000000; keepalive_timeout 600s;',
      '  server {',
      `    listen 127.0.0.1:${port} ssl http2;`,
      `    ssl_certificate ${tls.certFile}; ssl_certificate_key ${tls.keyFile};`,
      '    http2_max_concurrent_streams 1000;',
      '    location / { return 200; }',
      '  }',
      '}',
    ].join('\n'),
  );
  const proc = await runSinkProcess(
    binary,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'],
    port,
    'nginx',
  );
  const stop = () => proc.stop('SIGQUIT'); // a graceful stop flushes the access log
  return {
    name: 'nginx',
    port,
    caFile: tls.caFile,
    pid: proc.pid,
    async stopAndCount() {
      await stop();
      const tokens = new Set<string>();
      let accepted = 0;
      const lines = createInterface({ input: createReadStream(accessLog) });
      for await (const line of lines) {
        const [path, status] = line.split(' ');
        if (status !== '200' || !path?.startsWith('/3/device/')) continue;
        accepted++;
        tokens.add(path.slice('/3/device/'.length));
      }
      return { accepted, distinctTokens: tokens.size };
    },
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
