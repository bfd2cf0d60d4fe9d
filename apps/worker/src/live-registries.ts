import { ActivityTokenStore, ChannelStore, PushToStartStore } from '@pushfleet/store';
import type { Redis } from 'ioredis';
import type { LiveActivityPort } from './delivery/ports.ts';

/** The Live Activity token registries and the channel store, as deliver jobs use them. */
export function liveActivityPort(redis: Redis, prefix: string): LiveActivityPort {
  const activities = new ActivityTokenStore(redis, prefix);
  const starts = new PushToStartStore(redis, prefix);
  const channels = new ChannelStore(redis, prefix);
  return {
    currentTokens: (app, env, ids) => activities.currentTokens(app, env, ids),
    activityTokenGone: async (app, env, token, at) => (await activities.tokenGone(app, env, token, at)).kind,
    startTokenGone: (app, env, type, token, at) => starts.invalidate(app, env, type, token, at),
    channelGone: async (app, env, channelId) =>
      (await channels.removeByChannelId(app, env, channelId)) !== null,
  };
}
