import { parseArgs } from 'node:util';
import type { LiveActivityNotification, LiveActivityPush, PushfleetClient } from '@pushfleet/client';
import { createOutput, type Output } from './output.ts';
import { appFrom, clientFrom, connectionOptions, UsageError } from './shared.ts';

// `pushfleet live start|update|end` (Live Activity pushes) and the token registries
// (`live register-start`, `live register-activity`, `live show`).

const liveOptions = {
  ...connectionOptions,
  token: { type: 'string', multiple: true },
  activity: { type: 'string', multiple: true },
  user: { type: 'string', multiple: true },
  state: { type: 'string' },
  title: { type: 'string' },
  body: { type: 'string' },
  sound: { type: 'string' },
  'attributes-type': { type: 'string' },
  attributes: { type: 'string' },
  channel: { type: 'string' },
  'channel-id': { type: 'string' },
  'input-push-token': { type: 'boolean', default: false },
  timestamp: { type: 'string' },
  'stale-date': { type: 'string' },
  'dismissal-date': { type: 'string' },
  relevance: { type: 'string' },
  priority: { type: 'string' },
  environment: { type: 'string' },
  'idempotency-key': { type: 'string' },
  wait: { type: 'boolean', default: false },
} as const;

/** `--flag` as JSON (an object), with a usage error naming the flag. */
export function jsonFlag(name: string, raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  try {
    const value = JSON.parse(raw) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new UsageError(`--${name} must be a JSON object`);
}

/** A UNIX time in seconds: a number, `now`, or `now+SECONDS`. */
export function secondsFlag(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const now = Math.floor(Date.now() / 1000);
  const relative = /^now(?:\+(\d+))?$/.exec(raw);
  if (relative) return now + Number(relative[1] ?? 0);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--${name} is UNIX seconds, "now" or "now+SECONDS"`);
  return n;
}

const numberFlag = (name: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number`);
  return n;
};

export async function liveCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, options: liveOptions, allowPositionals: true });
  const out = createOutput(values.json);
  const client = clientFrom(values, env);
  const app = appFrom(values, env);
  const environment = values.environment as 'sandbox' | 'production' | undefined;
  switch (sub) {
    case 'start':
    case 'update':
    case 'end':
      return sendLive(sub, values, client, app, out);
    case 'register-start': {
      const token = positionals[0];
      if (!token || !values['attributes-type']) {
        throw new UsageError('live register-start TOKEN --attributes-type TYPE [--user U]');
      }
      const r = await client.live.registerPushToStart(app, token, {
        attributesType: values['attributes-type'],
        userId: values.user?.[0],
        environment,
      });
      out.result(
        `push-to-start token registered for ${r.attributesType}${r.userId ? ` (user ${r.userId})` : ''}`,
        r,
      );
      return 0;
    }
    case 'register-activity': {
      const id = positionals[0];
      const token = values.token?.[0];
      if (!id || !token) throw new UsageError('live register-activity ACTIVITY_ID --token T [--user U]');
      const r = await client.live.registerActivity(app, id, {
        token,
        userId: values.user?.[0],
        attributesType: values['attributes-type'],
        environment,
      });
      out.result(`activity ${r.activityId}: token ${r.token.slice(0, 8)}… registered`, r);
      return 0;
    }
    case 'show': {
      const id = positionals[0];
      if (!id) throw new UsageError('live show ACTIVITY_ID');
      const r = await client.live.getActivity(app, id, environment);
      out.result(`activity ${r.activityId}: token ${r.token.slice(0, 8)}…, updated ${r.updatedAt}`, r);
      return 0;
    }
    default:
      throw new UsageError('live start|update|end|register-start|register-activity|show');
  }
}

type LiveValues = ReturnType<
  typeof parseArgs<{ options: typeof liveOptions; allowPositionals: true }>
>['values'];

async function sendLive(
  event: 'start' | 'update' | 'end',
  values: LiveValues,
  client: PushfleetClient,
  app: string,
  out: Output,
): Promise<number> {
  const state = jsonFlag('state', values.state);
  if (!state) throw new UsageError(`live ${event} needs --state JSON (the activity's content state)`);
  const n: LiveActivityNotification = { event, contentState: state };
  const timestamp = secondsFlag('timestamp', values.timestamp);
  if (timestamp !== undefined) n.timestamp = timestamp;
  const stale = secondsFlag('stale-date', values['stale-date']);
  if (stale !== undefined) n.staleDate = stale;
  const dismissal = secondsFlag('dismissal-date', values['dismissal-date']);
  if (dismissal !== undefined) n.dismissalDate = dismissal;
  const relevance = numberFlag('relevance', values.relevance);
  if (relevance !== undefined) n.relevanceScore = relevance;
  const priority = numberFlag('priority', values.priority);
  if (priority !== undefined) n.priority = priority as 10 | 5 | 1;
  if (values.title !== undefined || values.body !== undefined) {
    n.alert = {
      title: values.title ?? '',
      body: values.body ?? '',
      ...(values.sound && { sound: values.sound }),
    };
  }
  if (event === 'start') {
    if (values['attributes-type']) n.attributesType = values['attributes-type'];
    const attributes = jsonFlag('attributes', values.attributes);
    if (attributes) n.attributes = attributes;
    if (values['input-push-token']) n.inputPushToken = true;
    // A channel by its Pushfleet name, looked up, or APNs' id as it is.
    if (values.channel) n.inputPushChannel = (await client.channels.get(app, values.channel)).channelId;
    else if (values['channel-id']) n.inputPushChannel = values['channel-id'];
  }
  const targets = [values.token, values.activity, values.user].filter((t) => t !== undefined);
  if (targets.length !== 1) throw new UsageError(`live ${event} needs one of --token, --activity, --user`);
  const push = (
    values.token
      ? { tokens: values.token }
      : values.activity
        ? { activityIds: values.activity }
        : { userIds: values.user! }
  ) as LiveActivityPush;
  push.notification = n;
  if (values.environment) push.environment = values.environment as 'sandbox' | 'production';
  const sent = await client.live.send(
    app,
    push,
    values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {},
  );
  if (!values.wait) {
    out.result(`${event}: accepted ${sent.accepted} (id ${sent.id})`, sent);
    return 0;
  }
  for (;;) {
    const status = await client.getNotification(app, sent.id);
    if (status.state === 'done') {
      const why = Object.entries(status.reasons)
        .map(([r, c]) => `${r} ${c}`)
        .join(', ');
      out.result(
        `${event}: delivered ${status.delivered}/${status.accepted}${why ? ` (${why})` : ''} (id ${sent.id})`,
        status,
      );
      return status.delivered === status.accepted ? 0 : 3;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
