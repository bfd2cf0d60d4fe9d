import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHANNEL_LIMIT } from './channels.ts';
import { type ControlServer, startControlServer } from './control-api.ts';
import { type ProviderServer, startProviderServer } from './http2-server.ts';
import { createLogger, type Logger } from './log.ts';
import type { Environment } from './registry.ts';
import { createSimContext, type Mode, type SimContext } from './sim-context.ts';
import {
  createCertificateAuthority,
  createServerCertificate,
  loadCertificateAuthority,
} from './tls-material.ts';
import { TOKEN_UPDATE_MIN_INTERVAL_MS } from './token-auth.ts';

/** Options of startSimulator; each mirrors a CLI flag (README "Flags"). */
export interface SimulatorOptions {
  host?: string;
  /** 0 = any free port (default). */
  port?: number;
  controlPort?: number;
  /** Channel-management API port (docs/apns-protocol.md §F.3); 0 = any free port (default). */
  channelPort?: number;
  /** Active broadcast channels allowed per app; default 10,000 as at APNs (§F.3). */
  channelLimit?: number;
  mode?: Mode;
  environment?: Environment;
  /**
   * An RSA CA (PEM) to use instead of generating one: it signs the server certificate (when none
   * is given) and the client certificates of POST /client-certs.
   */
  ca?: { certPem: string; keyPem: string };
  /** PEM text of the provider-API server certificate and key; generated when absent. */
  tlsCertPem?: string;
  tlsKeyPem?: string;
  /** PEM text clients should trust; defaults to tlsCertPem when a certificate is given. */
  tlsCaPem?: string;
  maxConcurrentStreams?: number;
  /**
   * Stream limit for token connections until their first authenticated request; 0 = off (default).
   * 1 models APNs as observed; clients that open streams before reading SETTINGS then see the
   * extra streams refused (REFUSED_STREAM), which is why it is opt-in.
   */
  tokenInitialStreams?: number;
  dropToOneAfterRejection?: boolean;
  idleTimeoutMs?: number;
  /** 64 (default) or 'any' even-length hex of 2–200 characters. */
  tokenLength?: number | 'any';
  strictDevices?: boolean;
  tokenUpdateMinIntervalMs?: number;
  /** Enable the legacy binary gateway on this port (0 = any free). */
  legacyGatewayPort?: number;
  /** Enable the legacy feedback service on this port (0 = any free). */
  feedbackPort?: number;
  legacyAllowAnonymous?: boolean;
  logLevel?: string;
  logger?: Logger;
  /** Clock for tests (ms since the epoch). */
  now?: () => number;
}

export interface RunningSimulator {
  port: number;
  controlPort: number;
  /** The channel-management API (HTTP/2 over TLS, same CA as the provider API). */
  channelPort: number;
  gatewayPort: number | undefined;
  feedbackPort: number | undefined;
  /** File holding the CA PEM clients should trust; deleted by close(). */
  caFile: string;
  caPem: string;
  environment: Environment;
  mode: Mode;
  /** In-process access to state, for tests that prefer it to the control API. */
  context: SimContext;
  /** Idempotent: GOAWAY Shutdown to clients, stop every listener, delete the CA file. */
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const host = options.host ?? '127.0.0.1';
  const environment = options.environment ?? 'sandbox';
  const mode = options.mode ?? 'validating';
  const log = options.logger ?? createLogger(options.logLevel);

  // The simulator's CA always exists: it signs the server certificate (unless one is given)
  // and every client certificate issued through POST /client-certs.
  const ca = options.ca ? loadCertificateAuthority(options.ca) : createCertificateAuthority();
  const server =
    options.tlsCertPem && options.tlsKeyPem
      ? { certPem: options.tlsCertPem, keyPem: options.tlsKeyPem }
      : createServerCertificate(ca, host === '127.0.0.1' || host === 'localhost' ? [] : [host]);
  const caPem = options.tlsCertPem ? (options.tlsCaPem ?? options.tlsCertPem) : ca.certPem;
  const caDir = mkdtempSync(join(tmpdir(), 'apns-sim-'));
  const caFile = join(caDir, 'ca.pem');
  writeFileSync(caFile, caPem);

  const ctx = createSimContext({
    settings: {
      mode,
      environment,
      maxConcurrentStreams: options.maxConcurrentStreams ?? 1000,
      tokenInitialStreams: options.tokenInitialStreams ?? 0,
      dropToOneAfterRejection: options.dropToOneAfterRejection ?? false,
      idleTimeoutMs: options.idleTimeoutMs ?? 0,
      tokenLength: options.tokenLength ?? 64,
      strictDevices: options.strictDevices ?? false,
      tokenUpdateMinIntervalMs: options.tokenUpdateMinIntervalMs ?? TOKEN_UPDATE_MIN_INTERVAL_MS,
      legacyAllowAnonymous: options.legacyAllowAnonymous ?? false,
      channelLimit: options.channelLimit ?? CHANNEL_LIMIT,
    },
    clientCa: ca,
    log,
    now: options.now,
  });

  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    // Every cleanup runs even if one fails (BullMQ-style close).
    const results = await Promise.allSettled(closers.reverse().map((c) => c()));
    rmSync(caDir, { recursive: true, force: true });
    for (const r of results) if (r.status === 'rejected') log.warn({ err: r.reason }, 'close step failed');
  };

  try {
    const provider: ProviderServer = await startProviderServer(ctx, {
      host,
      port: options.port ?? 0,
      certPem: server.certPem,
      keyPem: server.keyPem,
      clientCaPems: [ca.certPem],
    });
    closers.push(() => provider.close());
    const channels: ProviderServer = await startProviderServer(ctx, {
      host,
      port: options.channelPort ?? 0,
      certPem: server.certPem,
      keyPem: server.keyPem,
      clientCaPems: [ca.certPem],
      role: 'channels',
    });
    closers.push(() => channels.close());
    const control: ControlServer = await startControlServer(ctx, host, options.controlPort ?? 0);
    closers.push(() => control.close());

    let gatewayPort: number | undefined;
    let feedbackPort: number | undefined;
    if (options.legacyGatewayPort !== undefined || options.feedbackPort !== undefined) {
      const { startLegacyGateway } = await import('./legacy-gateway.ts');
      const { startLegacyFeedback } = await import('./legacy-feedback.ts');
      const tls = { host, certPem: server.certPem, keyPem: server.keyPem, clientCaPems: [ca.certPem] };
      if (options.legacyGatewayPort !== undefined) {
        const gateway = await startLegacyGateway(ctx, { ...tls, port: options.legacyGatewayPort });
        closers.push(() => gateway.close());
        gatewayPort = gateway.port;
      }
      if (options.feedbackPort !== undefined) {
        const feedback = await startLegacyFeedback(ctx, { ...tls, port: options.feedbackPort });
        closers.push(() => feedback.close());
        feedbackPort = feedback.port;
      }
    }

    let closing: Promise<void> | undefined;
    return {
      port: provider.port,
      controlPort: control.port,
      channelPort: channels.port,
      gatewayPort,
      feedbackPort,
      caFile,
      caPem,
      environment,
      mode,
      context: ctx,
      close() {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
