import { once } from 'node:events';
import { parseArgs } from 'node:util';
import type { CampaignSpec, CampaignStatus, PushfleetClient, ReportRow } from '@pushfleet/client';
import { createOutput, num, type Output, progressBar } from './output.ts';
import {
  appFrom,
  clientFrom,
  connectionOptions,
  notificationFrom,
  notificationOptions,
  tokensFromFile,
  UsageError,
} from './shared.ts';

function summary(s: CampaignStatus): string {
  const rejected = Object.entries(s.rejected)
    .map(([reason, n]) => `${reason} ${num(n)}`)
    .join(', ');
  return (
    `campaign ${s.id}${s.name ? ` "${s.name}"` : ''}: ${s.state}\n` +
    `  total ${s.total === null ? '?' : num(s.total)}  queued ${num(s.queued)}  delivered ${num(s.delivered)}  ` +
    `failed ${num(s.failed)}  invalidated ${num(s.invalidated)}  expired ${num(s.expired)}  cancelled ${num(s.cancelled)}\n` +
    `  rejected ${rejected || '0'}\n` +
    `  created ${s.createdAt}${s.startedAt ? `  started ${s.startedAt}` : ''}${s.finishedAt ? `  finished ${s.finishedAt}` : ''}`
  );
}

const finished = (s: CampaignStatus) =>
  s.delivered + s.failed + s.expired + s.cancelled + Object.values(s.rejected).reduce((a, b) => a + b, 0);

/** Live progress until done or cancelled: bar, rate over the last seconds, ETA. */
export async function followCampaign(
  client: PushfleetClient,
  app: string,
  id: string,
  out: Output,
  intervalMs = 500,
): Promise<CampaignStatus> {
  const samples: { at: number; done: number }[] = [];
  for (;;) {
    const s = await client.getCampaign(app, id);
    const done = finished(s);
    const now = Date.now();
    samples.push({ at: now, done });
    while (samples.length > 2 && now - samples[0]!.at > 5000) samples.shift();
    const first = samples[0]!;
    const rate = now > first.at ? ((done - first.done) * 1000) / (now - first.at) : 0;
    const total = s.total ?? s.accepted;
    out.progress(`${s.state.padEnd(9)} ${progressBar(done, total, rate)}`);
    if (s.state === 'done' || s.state === 'cancelled') {
      out.endProgress();
      return s;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Lines to stdout as they arrive, waiting when the pipe is full (constant memory for any size). */
async function writeLines<T>(lines: AsyncIterable<T>, text: (line: T) => string): Promise<number> {
  let count = 0;
  let chunk = '';
  const flush = async () => {
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
    chunk = '';
  };
  for await (const line of lines) {
    chunk += `${text(line)}\n`;
    count++;
    // One write per ~64 KB rather than per line: a 100,000-line report is 150 writes.
    if (chunk.length >= 65_536) await flush();
  }
  if (chunk) await flush();
  return count;
}

export async function campaignCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...connectionOptions,
      ...notificationOptions,
      'tokens-file': { type: 'string' },
      all: { type: 'boolean', default: false },
      tag: { type: 'string', multiple: true },
      user: { type: 'string', multiple: true },
      name: { type: 'string' },
      rate: { type: 'string' },
      'no-wait': { type: 'boolean', default: false },
      limit: { type: 'string' },
      format: { type: 'string' },
    },
  });
  const out = createOutput(values.json);
  const client = clientFrom(values, env);
  const app = appFrom(values, env);
  const idArg = () => {
    const id = positionals[0];
    if (!id) throw new UsageError(`campaign ${sub} needs a campaign id`);
    return id;
  };
  switch (sub) {
    case 'create': {
      const spec: CampaignSpec = { notification: notificationFrom(values) as CampaignSpec['notification'] };
      if (values.name) spec.name = values.name;
      if (values.environment) spec.environment = values.environment as 'sandbox' | 'production';
      if (values['send-at']) spec.sendAt = values['send-at'];
      if (values.rate) spec.ratePerSecond = Number(values.rate);
      const key = values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {};
      const file = values['tokens-file'];
      const audiences = [file, values.all || undefined, values.tag, values.user].filter(Boolean).length;
      if (audiences !== 1)
        throw new UsageError('campaign create needs one of --tokens-file, --all, --tag, --user');
      const started = Date.now();
      const created = file
        ? await client.uploadCampaign(app, spec, () => tokensFromFile(file), key)
        : await client.createCampaign(
            app,
            {
              ...spec,
              audience: values.all
                ? { kind: 'all' }
                : values.tag
                  ? { kind: 'tags', tags: values.tag }
                  : { kind: 'users', userIds: values.user! },
            },
            key,
          );
      const acceptSeconds = (Date.now() - started) / 1000;
      if (values['no-wait']) {
        out.result(
          `campaign ${created.campaignId} accepted (${created.total === null ? 'registry audience' : `${num(created.total)} tokens`}) in ${acceptSeconds.toFixed(1)}s`,
          { ...created, acceptSeconds },
        );
        return 0;
      }
      process.stderr.write(`campaign ${created.campaignId} accepted in ${acceptSeconds.toFixed(1)}s\n`);
      const final = await followCampaign(client, app, created.campaignId, out);
      out.result(summary(final), final);
      return final.state === 'done' ? 0 : 3;
    }
    case 'status': {
      const s = await client.getCampaign(app, idArg());
      out.result(summary(s), s);
      return 0;
    }
    case 'cancel': {
      const s = await client.cancelCampaign(app, idArg());
      out.result(summary(s), s);
      return 0;
    }
    case 'list': {
      const list = await client.listCampaigns(app, values.limit ? { limit: Number(values.limit) } : {});
      const lines = list.items.map(
        (s) =>
          `${s.id}  ${s.state.padEnd(10)} ${String(s.total ?? '?').padStart(10)}  ${s.createdAt}  ${s.name ?? ''}`,
      );
      out.result(lines.length ? lines.join('\n') : 'no campaigns', list);
      return 0;
    }
    case 'report': {
      const format = values.format ?? 'csv';
      if (format !== 'csv' && format !== 'ndjson') throw new UsageError('--format is csv or ndjson');
      const lines: AsyncIterable<string | ReportRow> =
        format === 'csv'
          ? client.campaignReport(app, idArg(), { format: 'csv' })
          : client.campaignReport(app, idArg());
      const rows = await writeLines(lines, (line) =>
        typeof line === 'string' ? line : JSON.stringify(line),
      );
      process.stderr.write(`${num(Math.max(0, format === 'csv' ? rows - 1 : rows))} tokens not delivered\n`);
      return 0;
    }
    default:
      throw new UsageError('campaign create|status|cancel|list|report');
  }
}
