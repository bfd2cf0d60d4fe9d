import { randomBytes } from 'node:crypto';
import type { MessageStoragePolicy } from '@pushfleet/core';
import { ChannelClients, type ChannelPort } from '../src/channel-clients.ts';

/**
 * APNs' channel-management API in memory, for API tests that need channels without a simulator
 * (the OpenAPI battery): channels per bundle id, ChannelNotRegistered for unknown ids.
 */
export function fakeChannelClients(): ChannelClients {
  const channels = new Map<string, MessageStoragePolicy>();
  const gone = {
    kind: 'rejected',
    status: 400,
    reason: 'ChannelNotRegistered',
    action: 'channel-gone',
  } as const;
  const port: ChannelPort = {
    async create(_bundleId, policy) {
      const channelId = randomBytes(16).toString('base64');
      channels.set(channelId, policy);
      return { kind: 'ok', requestId: undefined, channelId };
    },
    async read(_bundleId, channelId) {
      const policy = channels.get(channelId);
      if (policy === undefined) return { ...gone, requestId: undefined };
      return { kind: 'ok', requestId: undefined, channelId, storagePolicy: policy };
    },
    async list() {
      return { kind: 'ok', requestId: undefined, channelIds: [...channels.keys()] };
    },
    async delete(_bundleId, channelId) {
      if (!channels.delete(channelId)) return { ...gone, requestId: undefined };
      return { kind: 'ok', requestId: undefined, channelId };
    },
    async close() {},
  };
  return new ChannelClients({
    // Any app: the routes check apps themselves before they ask for a client.
    app: () => ({}) as never,
    credentials: async () => ({ type: 'token', keyPem: '', keyId: 'K', teamId: 'T' }),
    requestTimeoutMs: 1000,
    create: () => port,
  });
}
