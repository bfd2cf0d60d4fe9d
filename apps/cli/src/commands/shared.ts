import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { PushfleetClient } from '@pushfleet/client';

/** Thrown for bad command lines: exit code 2 with the message. */
export class UsageError extends Error {}

export const connectionOptions = {
  url: { type: 'string' },
  key: { type: 'string' },
  app: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

export interface ConnectionValues {
  url?: string | undefined;
  key?: string | undefined;
  app?: string | undefined;
}

/** --url / PF_URL, --key / PF_API_KEY. */
export function clientFrom(values: ConnectionValues, env: NodeJS.ProcessEnv): PushfleetClient {
  const baseUrl = values.url ?? env.PF_URL ?? 'http://127.0.0.1:8080';
  const apiKey = values.key ?? env.PF_API_KEY;
  return new PushfleetClient({ baseUrl, ...(apiKey ? { apiKey } : {}) });
}

export function appFrom(values: ConnectionValues, env: NodeJS.ProcessEnv): string {
  const app = values.app ?? env.PF_APP;
  if (!app) throw new UsageError('--app (or PF_APP) is required');
  return app;
}

/** Lines of a file, trimmed, blanks skipped; streamed (a 10M-line file costs one chunk of memory). */
export async function* fileLines(path: string): AsyncGenerator<string> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const raw of lines) {
    const line = raw.trim();
    if (line) yield line;
  }
}

/** A token per line: bare hex, a JSON string, or `{"token": …}` (NDJSON). */
export async function* tokensFromFile(path: string): AsyncGenerator<string> {
  for await (const line of fileLines(path)) {
    if (line.startsWith('"')) yield JSON.parse(line) as string;
    else if (line.startsWith('{')) yield (JSON.parse(line) as { token: string }).token;
    else yield line;
  }
}

/** Notification from flags: --notification JSON, or --alert/--title/--body/--badge/--sound/… */
export function notificationFrom(values: Record<string, unknown>): Record<string, unknown> {
  if (typeof values.notification === 'string')
    return JSON.parse(values.notification) as Record<string, unknown>;
  const n: Record<string, unknown> = {};
  if (values.title !== undefined || values.body !== undefined || values.subtitle !== undefined) {
    n.alert = Object.fromEntries(
      (['title', 'subtitle', 'body'] as const)
        .filter((k) => values[k] !== undefined)
        .map((k) => [k, values[k]]),
    );
  } else if (values.alert !== undefined) n.alert = values.alert;
  if (values.badge !== undefined) n.badge = Number(values.badge);
  if (values.sound !== undefined) n.sound = values.sound;
  if (values['push-type'] !== undefined) n.pushType = values['push-type'];
  if (values.priority !== undefined) n.priority = Number(values.priority);
  if (values['collapse-id'] !== undefined) n.collapseId = values['collapse-id'];
  if (values['thread-id'] !== undefined) n.threadId = values['thread-id'];
  if (values['content-available']) n.contentAvailable = true;
  if (values.data !== undefined) n.data = JSON.parse(String(values.data));
  return n;
}

export const notificationOptions = {
  notification: { type: 'string' },
  alert: { type: 'string' },
  title: { type: 'string' },
  subtitle: { type: 'string' },
  body: { type: 'string' },
  badge: { type: 'string' },
  sound: { type: 'string' },
  'push-type': { type: 'string' },
  priority: { type: 'string' },
  'collapse-id': { type: 'string' },
  'thread-id': { type: 'string' },
  'content-available': { type: 'boolean' },
  data: { type: 'string' },
  environment: { type: 'string' },
  'send-at': { type: 'string' },
  'idempotency-key': { type: 'string' },
} as const;
