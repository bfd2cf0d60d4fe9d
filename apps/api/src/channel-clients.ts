import { ChannelClient } from '@pushfleet/apns';
import { type AppConfig, type CredentialMaterial, readSecretFile } from '@pushfleet/config';
import type { Environment } from '@pushfleet/core';

/**
 * What the channel routes need of APNs' channel-management API (docs/apns-protocol.md §F.3):
 * `ChannelClient` in production, a fake in tests.
 */
export type ChannelPort = Pick<ChannelClient, 'create' | 'read' | 'list' | 'delete' | 'close'>;

export interface ChannelClientsOptions {
  /** The app's settings now (config file or registry); undefined for an unknown app. */
  app(app: string): AppConfig | undefined;
  /** The app's key or certificate (read or decrypted when a client is made). */
  credentials(app: string): Promise<CredentialMaterial>;
  /** Changes when the app's settings or credentials change: its clients are then made afresh. */
  revision?(app: string): string;
  requestTimeoutMs: number;
  /** Tests put a fake in place of the HTTP/2 client. */
  create?(app: AppConfig, environment: Environment, credentials: CredentialMaterial): ChannelPort;
}

/**
 * One channel-management client per app × environment, made on first use. Unlike device pushes,
 * which only workers send, the API talks to this APNs API itself: creating, reading and deleting a
 * channel are rare, synchronous calls whose answer (the new channel's id, the 10,000-channel
 * limit, an unknown channel) the producer needs in the HTTP answer, and the client's connection
 * closes when idle, so an API process holds none while nobody manages channels.
 */
export class ChannelClients {
  private readonly clients = new Map<string, { revision: string; client: Promise<ChannelPort> }>();

  constructor(private readonly options: ChannelClientsOptions) {}

  /** The client of an app × environment; rejects with a short, safe message when its credentials cannot be had. */
  get(app: string, environment: Environment): Promise<ChannelPort> {
    const key = `${app}/${environment}`;
    const revision = this.options.revision?.(app) ?? '';
    const current = this.clients.get(key);
    if (current && current.revision === revision) return current.client;
    if (current) void current.client.then((c) => c.close()).catch(() => undefined);
    const client = this.make(app, environment);
    this.clients.set(key, { revision, client });
    // A failure is not cached: the next request tries again (credentials may be fixed meanwhile).
    client.catch(() => {
      if (this.clients.get(key)?.client === client) this.clients.delete(key);
    });
    return client;
  }

  private async make(app: string, environment: Environment): Promise<ChannelPort> {
    const config = this.options.app(app);
    if (!config) throw new Error(`unknown app ${app}`);
    const credentials = await this.options.credentials(app);
    if (this.options.create) return this.options.create(config, environment, credentials);
    const endpoint = config.endpoint;
    const channelEndpoint =
      endpoint?.channelPort === undefined
        ? undefined
        : {
            host: endpoint.host,
            port: endpoint.channelPort,
            ...(endpoint.caFile && { caPem: readSecretFile('endpoint.caFile', endpoint.caFile) }),
          };
    return new ChannelClient({
      environment,
      credentials,
      ...(channelEndpoint && { endpoint: channelEndpoint }),
      requestTimeoutMs: this.options.requestTimeoutMs,
    });
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.allSettled(all.map(async (c) => (await c.client).close()));
  }
}
