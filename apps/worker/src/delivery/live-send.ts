import {
  type BroadcastDeliverJobData,
  classifyActivityResults,
  classifyBroadcastResult,
  classifyResults,
  type DeliverJobData,
  type DeviceDeliverJobData,
  liveActivityTokenKind,
  type PushTransport,
  resolveActivities,
  type SliceVerdict,
  shortenToken,
} from '@pushfleet/core';
import type { DeliveryMetrics, Logger } from '@pushfleet/telemetry';
import { countResponses } from './metrics.ts';
import type { LiveActivityPort } from './ports.ts';

/** A slice's verdict, and what to tidy up once the ledger has recorded it. */
export interface SentSlice {
  verdict: SliceVerdict;
  /**
   * Registry clean-up the answers call for (a dead activity or push-to-start token, a channel
   * APNs no longer knows), run after the step is recorded: the record is what must not be lost;
   * a clean-up lost to a crash is redone by nothing, but the registries expire or fail the same
   * way next time.
   */
  cleanup(): Promise<void>;
}

export interface SendDeps {
  metrics: DeliveryMetrics;
  live?: LiveActivityPort | undefined;
  log: Logger;
  now(): number;
}

const nothing = async () => undefined;

/**
 * Sends one slice of a deliver job, whatever it goes to: device tokens, Live Activity ids
 * (resolved to their current tokens now, at send time) or a broadcast channel.
 */
export async function sendAnySlice(
  transport: PushTransport,
  data: DeliverJobData,
  slice: string[],
  deps: SendDeps,
): Promise<SentSlice> {
  if (data.broadcast) return sendBroadcast(transport, data, slice, deps);
  if (data.target === 'activity') return sendToActivities(transport, data, slice, deps);
  const labels = { app: data.app, environment: data.environment };
  const results = await transport.send(data.prepared, slice);
  countResponses(deps.metrics, labels, results);
  const verdict = classifyResults(slice, results, deps.now());
  return { verdict, cleanup: liveTokenCleanup(data, verdict, deps) };
}

/** Live Activity pushes to tokens: a dead push-to-start or activity token leaves its registry too. */
function liveTokenCleanup(data: DeviceDeliverJobData, verdict: SliceVerdict, deps: SendDeps) {
  const live = deps.live;
  const dead = verdict.outcomes.invalidated;
  if (!live || dead.length === 0) return nothing;
  const kind = liveActivityTokenKind(data.prepared.headers['apns-push-type'], data.prepared.payload);
  if (!kind) return nothing;
  return async () => {
    for (const t of dead) {
      if (kind.kind === 'start') {
        await live.startTokenGone(data.app, data.environment, kind.attributesType, t.token, t.timestamp);
      } else await live.activityTokenGone(data.app, data.environment, t.token, t.timestamp);
    }
  };
}

async function sendToActivities(
  transport: PushTransport,
  data: DeviceDeliverJobData,
  activityIds: string[],
  deps: SendDeps,
): Promise<SentSlice> {
  const live = deps.live;
  if (!live) throw new Error('a job addressed to activity ids needs the activity registry');
  const resolved = resolveActivities(
    activityIds,
    await live.currentTokens(data.app, data.environment, activityIds),
  );
  const results = resolved.tokens.length > 0 ? await transport.send(data.prepared, resolved.tokens) : [];
  countResponses(deps.metrics, { app: data.app, environment: data.environment }, results);
  const { gone, ...verdict } = classifyActivityResults(resolved, results, deps.now());
  if (gone.length === 0) return { verdict, cleanup: nothing };
  return {
    verdict,
    async cleanup() {
      for (const g of gone) {
        const result = await live.activityTokenGone(data.app, data.environment, g.token, g.timestamp);
        deps.log.info(
          { activityId: g.activityId, token: shortenToken(g.token), result },
          'activity token gone: record ended unless re-registered since',
        );
      }
    },
  };
}

async function sendBroadcast(
  transport: PushTransport,
  data: BroadcastDeliverJobData,
  slice: string[],
  deps: SendDeps,
): Promise<SentSlice> {
  const channel = slice[0]!;
  const result = transport.sendBroadcast
    ? await transport.sendBroadcast(data.prepared, data.broadcast.channelId)
    : ({ kind: 'failed', error: 'this transport cannot send broadcasts' } as const);
  countResponses(deps.metrics, { app: data.app, environment: data.environment }, [result]);
  const { channelGone, ...verdict } = classifyBroadcastResult(channel, result);
  const live = deps.live;
  if (!channelGone || !live) return { verdict, cleanup: nothing };
  return {
    verdict,
    async cleanup() {
      const removed = await live.channelGone(data.app, data.environment, data.broadcast.channelId);
      deps.log.warn({ channel, removed }, 'APNs does not know the channel (ChannelNotRegistered): forgotten');
    },
  };
}
