import { parseArgs } from 'node:util';
import type { SendNotificationRequest } from '@pushfleet/client';
import { createOutput } from './output.ts';
import {
  appFrom,
  clientFrom,
  connectionOptions,
  notificationFrom,
  notificationOptions,
  tokensFromFile,
  UsageError,
} from './shared.ts';

export async function sendCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...connectionOptions,
      ...notificationOptions,
      token: { type: 'string', multiple: true },
      'tokens-file': { type: 'string' },
      user: { type: 'string', multiple: true },
      tag: { type: 'string', multiple: true },
      wait: { type: 'boolean', default: false },
    },
  });
  const out = createOutput(values.json);
  const client = clientFrom(values, env);
  const app = appFrom(values, env);
  const request: SendNotificationRequest = {
    notification: notificationFrom(values) as SendNotificationRequest['notification'],
  };
  const tokens = [...(values.token ?? [])];
  if (values['tokens-file']) for await (const t of tokensFromFile(values['tokens-file'])) tokens.push(t);
  if (tokens.length > 0) request.tokens = tokens;
  if (values.user) request.userIds = values.user;
  if (values.tag) request.tags = values.tag;
  if (!request.tokens && !request.userIds && !request.tags)
    throw new UsageError('send needs --token, --tokens-file, --user or --tag');
  if (values.environment) request.environment = values.environment as 'sandbox' | 'production';
  if (values['send-at']) request.sendAt = values['send-at'];
  const sent = await client.sendNotification(
    app,
    request,
    values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {},
  );
  if (!values.wait) {
    out.result(`accepted ${sent.accepted} (id ${sent.id})`, sent);
    return 0;
  }
  for (;;) {
    const status = await client.getNotification(app, sent.id);
    out.progress(
      `delivered ${status.delivered}/${status.accepted}  rejected ${status.rejected}  failed ${status.failed}`,
    );
    if (status.state === 'done') {
      out.endProgress();
      out.result(
        `done: delivered ${status.delivered}, rejected ${status.rejected}, failed ${status.failed}, expired ${status.expired}, cancelled ${status.cancelled} (id ${sent.id})`,
        status,
      );
      return status.delivered === status.accepted ? 0 : 3;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
