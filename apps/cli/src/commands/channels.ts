import { parseArgs } from 'node:util';
import type { BroadcastNotification, Channel } from '@pushfleet/client';
import { jsonFlag, secondsFlag } from './live.ts';
import { createOutput } from './output.ts';
import { appFrom, clientFrom, connectionOptions, UsageError } from './shared.ts';

// `pushfleet channels create|list|show|delete` and `pushfleet broadcast`.

const line = (c: Channel) =>
  `${c.name}  ${c.channelId}  ${c.environment}  policy ${c.messageStoragePolicy}  ${JSON.stringify(c.metadata)}`;

export async function channelsCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      ...connectionOptions,
      policy: { type: 'string' },
      metadata: { type: 'string' },
      environment: { type: 'string' },
    },
    allowPositionals: true,
  });
  const out = createOutput(values.json);
  const client = clientFrom(values, env);
  const app = appFrom(values, env);
  const environment = values.environment as 'sandbox' | 'production' | undefined;
  const name = positionals[0];
  switch (sub) {
    case 'create': {
      if (!name)
        throw new UsageError('channels create NAME [--policy 0|1] [--metadata JSON] [--environment E]');
      if (values.policy !== undefined && values.policy !== '0' && values.policy !== '1') {
        throw new UsageError('--policy is 0 (no message stored) or 1 (the latest stored, default)');
      }
      const metadata = jsonFlag('metadata', values.metadata);
      const channel = await client.channels.create(app, {
        name,
        ...(values.policy !== undefined && { messageStoragePolicy: Number(values.policy) as 0 | 1 }),
        ...(metadata && { metadata }),
        ...(environment && { environment }),
      });
      out.result(`created ${line(channel)}`, channel);
      return 0;
    }
    case 'list': {
      const channels = await client.channels.list(app, environment);
      out.result(channels.length === 0 ? 'no channels' : channels.map(line).join('\n'), channels);
      return 0;
    }
    case 'show': {
      if (!name) throw new UsageError('channels show NAME');
      const channel = await client.channels.get(app, name);
      out.result(line(channel), channel);
      return 0;
    }
    case 'delete': {
      if (!name) throw new UsageError('channels delete NAME');
      await client.channels.delete(app, name);
      out.result(`deleted ${name}`, { deleted: name });
      return 0;
    }
    default:
      throw new UsageError('channels create|list|show|delete');
  }
}

export async function broadcastCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...connectionOptions,
      state: { type: 'string' },
      end: { type: 'boolean', default: false },
      title: { type: 'string' },
      body: { type: 'string' },
      timestamp: { type: 'string' },
      'stale-date': { type: 'string' },
      'dismissal-date': { type: 'string' },
      priority: { type: 'string' },
      expiration: { type: 'string' },
      'idempotency-key': { type: 'string' },
      wait: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const out = createOutput(values.json);
  const client = clientFrom(values, env);
  const app = appFrom(values, env);
  const channel = positionals[0];
  const state = jsonFlag('state', values.state);
  if (!channel || !state)
    throw new UsageError('broadcast CHANNEL --state JSON [--end [--dismissal-date S]] [--wait]');
  const n: BroadcastNotification = { event: values.end ? 'end' : 'update', contentState: state };
  const timestamp = secondsFlag('timestamp', values.timestamp);
  if (timestamp !== undefined) n.timestamp = timestamp;
  const stale = secondsFlag('stale-date', values['stale-date']);
  if (stale !== undefined) n.staleDate = stale;
  const dismissal = secondsFlag('dismissal-date', values['dismissal-date']);
  if (dismissal !== undefined) n.dismissalDate = dismissal;
  const expiration = secondsFlag('expiration', values.expiration);
  if (expiration !== undefined) n.expiration = expiration;
  if (values.priority !== undefined) n.priority = Number(values.priority) as 10 | 5 | 1;
  if (values.title !== undefined || values.body !== undefined) {
    n.alert = { title: values.title ?? '', body: values.body ?? '' };
  }
  const sent = await client.channels.broadcast(
    app,
    channel,
    n,
    values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {},
  );
  if (!values.wait) {
    out.result(`broadcast accepted (id ${sent.id})`, sent);
    return 0;
  }
  const status = await client.channels.waitForBroadcast(app, sent.id, { intervalMs: 100 });
  out.result(
    `broadcast ${status.outcome ?? status.state}${status.reason ? ` (${status.reason})` : ''} (id ${sent.id})`,
    status,
  );
  return status.outcome === 'delivered' ? 0 : 3;
}
