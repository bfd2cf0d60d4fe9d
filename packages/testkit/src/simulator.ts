import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const simRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface SimulatorProcessOptions {
  /** Raw CLI flags, appended after the typed ones below. */
  args?: string[];
  mode?: 'validating' | 'fast';
  environment?: 'sandbox' | 'production';
  maxConcurrentStreams?: number;
  /** Active broadcast channels allowed per app (`--channel-limit`; the simulator's default is 10,000). */
  channelLimit?: number;
  /** Enable the legacy gateway / feedback service on a free port. */
  legacyGateway?: boolean;
  feedback?: boolean;
  /** How long to wait for the ready line (default 30 s). */
  startTimeoutMs?: number;
}

export interface SimulatorFault {
  status?: number;
  reason?: string;
  rate?: number;
  token?: string;
  /** Which requests it hits: device pushes (default), broadcasts, channel management, or all. */
  target?: 'device' | 'broadcast' | 'channels' | 'all';
  /** Only broadcasts / channel requests carrying this apns-channel-id. */
  channelId?: string;
  count?: number;
  retryAfter?: number;
  latencyMs?: number;
  latencyJitterMs?: number;
  timestamp?: number;
  durationMs?: number;
  goawayAfter?: number;
  reset?: boolean | 'connection' | 'stream';
  maxConcurrentStreams?: number;
  dropToOneAfterRejection?: boolean;
  tlsHandshakeDelayMs?: number;
  legacyStatus?: number;
}

export interface SimulatorStats {
  requests: number;
  accepted: number;
  rejected: Record<string, number>;
  connections: number;
  openConnections: number;
  deliveriesTotal: number;
  /** null in fast mode, which does not remember what it accepted. */
  duplicates: number | null;
  faultsFired: number;
  goaways: number;
  resets: number;
  legacyNotifications: number;
  legacyErrors: number;
  feedbackReads: number;
  /** Accepted device pushes per signing key id (validating mode, token auth). */
  acceptedByKey: Record<string, number>;
  broadcasts: { requests: number; accepted: number; rejected: Record<string, number> };
  channels: {
    requests: number;
    accepted: number;
    rejected: Record<string, number>;
    created: number;
    deleted: number;
    active: number;
    connections: number;
    openConnections: number;
  };
}

export interface SimulatorChannel {
  channelId: string;
  bundleId: string;
  messageStoragePolicy: 0 | 1;
  createdAt: number;
  /** null while the channel is active. */
  deletedAt: number | null;
  /** How many broadcasts it accepted. */
  broadcasts: number;
}

export interface SimulatorBroadcast {
  channelId: string;
  requestId: string;
  uniqueId: string;
  /** apns-request-id, apns-channel-id, apns-push-type, apns-priority, apns-expiration (+ apns-id, apns-topic when sent). */
  headers: Record<string, string>;
  payload: unknown;
  /** The body exactly as received. */
  body: string;
  receivedAt: number;
}

export interface SimulatorDelivery {
  apnsId: string;
  headers: Record<string, string>;
  payload: unknown;
  /** The body exactly as received. */
  body: string;
  receivedAt: number;
  via: 'h2' | 'legacy';
}

export interface SimulatorControl {
  addKey(key: {
    keyId: string;
    teamId: string;
    publicKeyPem: string;
    topics?: string[];
    environment?: 'sandbox' | 'production' | 'both';
    relatedKeyId?: string;
  }): Promise<void>;
  /** Revokes a key: every later request signed with it gets 403 InvalidProviderToken. */
  removeKey(keyId: string): Promise<void>;
  addDevice(device: { token: string; topic: string; environment?: 'sandbox' | 'production' }): Promise<void>;
  unregister(device: {
    token: string;
    topic: string;
    timestamp?: number;
    reason?: 'Unregistered' | 'ExpiredToken';
  }): Promise<void>;
  /** Returns the fault id. */
  addFault(fault: SimulatorFault): Promise<number>;
  clearFaults(): Promise<void>;
  stats(): Promise<SimulatorStats>;
  deliveries(token: string): Promise<SimulatorDelivery[]>;
  deliveriesSummary(): Promise<{
    tokens: number | null;
    deliveries: number;
    duplicateTokens: number | null;
    duplicates: number | null;
  }>;
  reset(): Promise<void>;
  clientCert(request: {
    topics: string[];
    environment?: 'sandbox' | 'production' | 'both';
    untrusted?: boolean;
    expired?: boolean;
  }): Promise<{ certPem: string; keyPem: string }>;
  /** Every channel created on the channel port (deleted ones too), optionally of one app. */
  channels(bundleId?: string): Promise<SimulatorChannel[]>;
  /** Creates channels directly (test set-up); fails when the app's limit would be passed. */
  seedChannels(request: {
    bundleId: string;
    messageStoragePolicy?: 0 | 1;
    count?: number;
  }): Promise<string[]>;
  /** Accepted broadcasts of one channel, in order. */
  broadcasts(channelId: string): Promise<SimulatorBroadcast[]>;
  /** Accepted broadcasts on every channel of an app, oldest first. */
  appBroadcasts(bundleId: string): Promise<SimulatorBroadcast[]>;
  /** Switches an app's broadcast capability (off: FeatureNotEnabled on both broadcast APIs). */
  setBroadcastCapability(bundleId: string, enabled: boolean): Promise<void>;
  /** Forgets every channel, broadcast and capability setting (POST /reset does too). */
  clearChannels(): Promise<void>;
}

export interface RunningSimulatorProcess {
  port: number;
  controlPort: number;
  /** The channel-management API (HTTP/2 over TLS, trusts the same CA as `port`). */
  channelPort: number;
  gatewayPort: number | undefined;
  feedbackPort: number | undefined;
  caFile: string;
  caPem: string;
  environment: 'sandbox' | 'production';
  process: ChildProcess;
  control: SimulatorControl;
  /** Last lines of the simulator's stderr, for failure messages. */
  recentLogs(): string;
  /** SIGTERM, then wait for exit (bounded; SIGKILL after timeoutMs). Resolves to the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

function controlClient(base: string): SimulatorControl {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(base + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`simulator ${method} ${path} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return {
    addKey: async (key) => void (await call('POST', '/keys', key)),
    removeKey: async (keyId) => void (await call('DELETE', `/keys/${encodeURIComponent(keyId)}`)),
    addDevice: async (device) => void (await call('POST', '/devices', device)),
    unregister: async (device) => void (await call('POST', '/devices/unregister', device)),
    addFault: async (fault) => (await call<{ id: number }>('POST', '/faults', fault)).id,
    clearFaults: async () => void (await call('DELETE', '/faults')),
    stats: () => call('GET', '/stats'),
    deliveries: (token) => call('GET', `/deliveries?token=${encodeURIComponent(token)}`),
    deliveriesSummary: () => call('GET', '/deliveries/summary'),
    reset: async () => void (await call('POST', '/reset')),
    clientCert: (request) => call('POST', '/client-certs', request),
    channels: (bundleId) =>
      call(
        'GET',
        bundleId === undefined ? '/channels' : `/channels?bundleId=${encodeURIComponent(bundleId)}`,
      ),
    seedChannels: async (request) =>
      (await call<{ channelIds: string[] }>('POST', '/channels', request)).channelIds,
    broadcasts: (channelId) => call('GET', `/broadcasts?channelId=${encodeURIComponent(channelId)}`),
    appBroadcasts: (bundleId) => call('GET', `/broadcasts?bundleId=${encodeURIComponent(bundleId)}`),
    setBroadcastCapability: async (bundleId, enabled) =>
      void (await call('POST', '/broadcast-capability', { bundleId, enabled })),
    clearChannels: async () => void (await call('DELETE', '/channels')),
  };
}

/**
 * Runs the APNs simulator as a real process (`node --import tsx apps/apns-sim/src/main.ts`),
 * on free ports, and waits for its one JSON ready line.
 */
export async function startSimulatorProcess(
  options: SimulatorProcessOptions = {},
): Promise<RunningSimulatorProcess> {
  const args = ['--port', '0', '--control-port', '0', '--channel-port', '0'];
  if (options.channelLimit) args.push('--channel-limit', String(options.channelLimit));
  if (options.mode) args.push('--mode', options.mode);
  if (options.environment) args.push('--environment', options.environment);
  if (options.maxConcurrentStreams)
    args.push('--max-concurrent-streams', String(options.maxConcurrentStreams));
  if (options.legacyGateway) args.push('--legacy-gateway-port', '0');
  if (options.feedback) args.push('--feedback-port', '0');
  args.push(...(options.args ?? []));

  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/apns-sim/src/main.ts', ...args], {
    cwd: simRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    lines.push(...chunk.split('\n').filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  });
  const recentLogs = (): string => lines.slice(-30).join('\n');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`simulator not ready within ${options.startTimeoutMs ?? 30_000} ms:\n${recentLogs()}`),
      );
    }, options.startTimeoutMs ?? 30_000);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(stdout.slice(0, newline)) as Record<string, unknown>);
      } catch (err) {
        reject(new Error(`simulator ready line is not JSON: ${stdout.slice(0, newline)} (${String(err)})`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`simulator exited with ${code} before it was ready:\n${recentLogs()}`));
    });
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout?.resume();

  const caFile = String(ready['caFile']);
  return {
    port: Number(ready['port']),
    controlPort: Number(ready['controlPort']),
    channelPort: Number(ready['channelPort']),
    gatewayPort: ready['gatewayPort'] === undefined ? undefined : Number(ready['gatewayPort']),
    feedbackPort: ready['feedbackPort'] === undefined ? undefined : Number(ready['feedbackPort']),
    caFile,
    caPem: readFileSync(caFile, 'utf8'),
    environment: ready['environment'] === 'production' ? 'production' : 'sandbox',
    process: child,
    control: controlClient(`http://127.0.0.1:${Number(ready['controlPort'])}`),
    recentLogs,
    async stop(timeoutMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
