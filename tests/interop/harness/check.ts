import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import {
  Http2Transport,
  type Http2TransportOptions,
  type SendResult,
  type TransportTarget,
} from '@pushfleet/apns';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { generateProviderKey } from '@pushfleet/testkit';

/** Both HTTP/2 clients under the transport: Pushfleet's own (the default) and node:http2. */
export const clients = ['lean', 'node-http2'] as const;
export type Client = (typeof clients)[number];

const key = generateProviderKey();

/**
 * ~3 KB, close to APNs' 4 KB limit: one request body spans several DATA frames or window
 * updates on servers with tiny windows. Servers that can check it answer 400 BodyLength when the
 * bytes they received are not exactly these.
 */
export const prepared = prepareNotification(
  notificationSchema.parse({ alert: { title: 'interop', body: 'x'.repeat(2900) }, data: { n: 1 } }),
  'com.example.interop',
);
export const bodyLength = Buffer.byteLength(prepared.payload);

/** Token prefixes the scripted servers answer on: the first byte of the token picks the answer. */
export const answers = {
  ok: '00',
  bad: '40',
  gone: '41',
  busy: '42',
} as const;
export type Answer = keyof typeof answers;

/** The Unregistered timestamp every scripted server answers with. */
export const goneAt = 1767225600000;

export function token(prefix: string): string {
  return prefix + randomBytes(31).toString('hex');
}

export function expectedResult(kind: Answer): Exclude<SendResult, { kind: 'accepted' }> | 'accepted' {
  switch (kind) {
    case 'ok':
      return 'accepted';
    case 'bad':
      return { kind: 'rejected', status: 400, reason: 'BadDeviceToken' };
    case 'gone':
      return { kind: 'rejected', status: 410, reason: 'Unregistered', invalidAt: goneAt };
    case 'busy':
      return { kind: 'rejected', status: 429, reason: 'TooManyRequests', retryAfter: 7 };
  }
}

export interface Endpoint {
  port: number;
  caPem: string;
}

export function newTransport(
  endpoint: Endpoint,
  client: Client,
  target: Partial<TransportTarget> = {},
  options: Http2TransportOptions = {},
): Http2Transport {
  return new Http2Transport(
    {
      environment: 'sandbox',
      credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
      endpoint: { host: '127.0.0.1', port: endpoint.port, caPem: endpoint.caPem },
      connections: 2,
      maxInFlightPerConnection: 500,
      requestTimeoutMs: 10_000,
      ...target,
    },
    {},
    { reconnectBaseMs: 50, reconnectMaxMs: 500, ...options, client },
  );
}

/**
 * Sends `tokens` as concurrent batches (as a worker's deliver jobs do) and resolves with each
 * token's result; rejects if they have not all settled within `withinMs`, saying how many had.
 */
export async function sendAll(
  transport: Http2Transport,
  tokens: readonly string[],
  withinMs: number,
  batchSize = 25,
): Promise<SendResult[]> {
  const results = new Array<SendResult>(tokens.length);
  let settled = 0;
  const batches: Promise<void>[] = [];
  for (let at = 0; at < tokens.length; at += batchSize) {
    const batch = tokens.slice(at, at + batchSize);
    batches.push(
      transport.send(prepared, batch).then((out) => {
        assert.equal(out.length, batch.length, 'one result per token');
        out.forEach((result, i) => {
          results[at + i] = result;
        });
        settled += batch.length;
      }),
    );
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${settled} of ${tokens.length} notifications settled after ${withinMs} ms`)),
      withinMs,
    );
  });
  try {
    await Promise.race([Promise.all(batches), deadline]);
  } finally {
    clearTimeout(timer);
  }
  return results;
}

/** Closes a transport, failing the test if that takes more than a few seconds. */
export async function closeWithin(transport: Http2Transport, ms = 5000): Promise<void> {
  const closed = await Promise.race([transport.close().then(() => true), sleep(ms).then(() => false)]);
  assert.ok(closed, `transport.close() still pending after ${ms} ms`);
}

export interface DeliveryCheck {
  /** Notifications to send (default 300). */
  count?: number;
  /** Mix in tokens the server rejects (400, 410, 429); only for scripted servers. */
  errors?: boolean;
  /** What the server puts in `apns-id`: a UUID, any unique value, or nothing. */
  apnsId: 'uuid' | 'unique' | 'absent';
  target?: Partial<TransportTarget>;
  withinMs?: number;
  /** The request paths the server logged, to check it saw each token exactly once. */
  serverSaw?: () => string[];
  /** The server's own checks of the client, run after the delivery (throws on a violation). */
  verify?: () => void;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The interop check: every notification settles within the bound with exactly the result the
 * server's answer calls for (accepted with its apns-id, or rejected with status, reason,
 * invalidAt, retryAfter), nothing is lost, and the server saw each token once.
 */
export async function checkDelivery(endpoint: Endpoint, client: Client, check: DeliveryCheck): Promise<void> {
  const count = check.count ?? 300;
  const kinds: Answer[] = Array.from({ length: count }, (_, i) =>
    !check.errors ? 'ok' : i % 10 === 7 ? 'bad' : i % 10 === 8 ? 'gone' : i % 10 === 9 ? 'busy' : 'ok',
  );
  const tokens = kinds.map((kind) => token(answers[kind]));
  const transport = newTransport(endpoint, client, check.target);
  let results: SendResult[];
  try {
    results = await sendAll(transport, tokens, check.withinMs ?? 30_000);
  } finally {
    await closeWithin(transport);
  }
  const ids = new Set<string>();
  const wrong: string[] = [];
  results.forEach((result, i) => {
    const expected = expectedResult(kinds[i]!);
    if (expected !== 'accepted') {
      if (!isDeepStrictEqual(result, expected)) wrong.push(`#${i} ${kinds[i]}: ${JSON.stringify(result)}`);
    } else if (result.kind !== 'accepted') {
      wrong.push(`#${i} ${kinds[i]}: ${JSON.stringify(result)}`);
    } else if (check.apnsId === 'absent') {
      assert.equal(result.apnsId, undefined);
    } else {
      assert.ok(result.apnsId, `#${i}: accepted without the server's apns-id`);
      if (check.apnsId === 'uuid') assert.match(result.apnsId, uuidPattern);
      ids.add(result.apnsId);
    }
  });
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${count} with the wrong result`);
  const accepted = kinds.filter((k) => k === 'ok').length;
  if (check.apnsId !== 'absent') assert.equal(ids.size, accepted, 'every accepted one has its own apns-id');
  if (check.serverSaw) await checkServerSaw(check.serverSaw, tokens);
  check.verify?.();
}

/** Polls the server's log (written asynchronously) until it shows every token, then checks counts. */
async function checkServerSaw(serverSaw: () => string[], tokens: readonly string[]): Promise<void> {
  const wanted = new Set(tokens);
  let counts = new Map<string, number>();
  const deadline = Date.now() + 5000;
  do {
    counts = new Map();
    for (const path of serverSaw()) {
      const seen = path.slice(path.lastIndexOf('/') + 1);
      if (wanted.has(seen)) counts.set(seen, (counts.get(seen) ?? 0) + 1);
    }
    if (counts.size === wanted.size) break;
    await sleep(100);
  } while (Date.now() < deadline);
  const missing = tokens.filter((t) => !counts.has(t));
  const twice = [...counts].filter(([, n]) => n > 1);
  assert.equal(missing.length, 0, `${missing.length} tokens never reached the server`);
  assert.deepEqual(twice.slice(0, 5), [], `${twice.length} tokens reached the server more than once`);
}

/** Request paths (`/3/device/<hex>`) in a log text, in order. */
export function devicePaths(text: string): string[] {
  return text.match(/\/3\/device\/[0-9a-f]+/g) ?? [];
}
