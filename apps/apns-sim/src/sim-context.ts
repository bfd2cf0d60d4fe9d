import { ChannelStore } from './channels.ts';
import { DeliveryLog } from './deliveries.ts';
import { FaultStore } from './faults.ts';
import type { Logger } from './log.ts';
import { type Environment, Registry } from './registry.ts';
import { Stats } from './stats.ts';
import type { CertificateAuthority } from './tls-material.ts';

export type Mode = 'validating' | 'fast';

/** Behaviour settings fixed at start (CLI flags or startSimulator options). */
export interface SimSettings {
  mode: Mode;
  environment: Environment;
  /** SETTINGS_MAX_CONCURRENT_STREAMS once a connection is authenticated. */
  maxConcurrentStreams: number;
  /** Limit advertised to token connections until their first authenticated request; 0 = off. */
  tokenInitialStreams: number;
  dropToOneAfterRejection: boolean;
  /** GOAWAY IdleTimeout after this long without frames; 0 = never. */
  idleTimeoutMs: number;
  tokenLength: number | 'any';
  strictDevices: boolean;
  tokenUpdateMinIntervalMs: number;
  /** Legacy interfaces accept connections without a client certificate. */
  legacyAllowAnonymous: boolean;
  /** Active broadcast channels allowed per app (APNs: 10,000). */
  channelLimit: number;
}

/** Everything the servers share: one per simulator instance, never a module global. */
export interface SimContext {
  settings: SimSettings;
  registry: Registry;
  deliveries: DeliveryLog;
  /** Broadcast channels, their broadcasts, and apps with broadcast switched off. */
  channels: ChannelStore;
  stats: Stats;
  faults: FaultStore;
  clientCa: CertificateAuthority;
  log: Logger;
  now: () => number;
  /** Tells the provider server that stream limits or handshake delays may have changed. */
  connectionSettingsChanged: () => void;
}

export function createSimContext(input: {
  settings: SimSettings;
  clientCa: CertificateAuthority;
  log: Logger;
  now?: (() => number) | undefined;
}): SimContext {
  const now = input.now ?? Date.now;
  const ctx: SimContext = {
    settings: input.settings,
    registry: new Registry(),
    deliveries: new DeliveryLog(),
    channels: new ChannelStore(input.settings.channelLimit),
    stats: new Stats(),
    clientCa: input.clientCa,
    log: input.log,
    now,
    faults: undefined as unknown as FaultStore,
    connectionSettingsChanged: () => {},
  };
  // The fault store reports through ctx so the server can hook in after it starts.
  ctx.faults = new FaultStore(now, Math.random, () => ctx.connectionSettingsChanged());
  return ctx;
}
