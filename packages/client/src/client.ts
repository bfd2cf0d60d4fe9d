import { AppsApi } from './apps.ts';
import { bodyLines } from './lines.ts';
import { ChannelsApi, LiveActivitiesApi } from './live.ts';
import type {
  ApiErrorBody,
  CampaignSpec,
  CampaignStatus,
  CreateCampaignResponse,
  DeviceImportLine,
  DeviceRegistration,
  DeviceRegistrationRequest,
  Environment,
  FeedbackItem,
  NotificationStatus,
  RegistryAudience,
  ReportFormat,
  ReportRow,
  SendNotificationRequest,
  SendNotificationResponse,
} from './types.ts';

/** An API answer with an error status; `code` is the stable PF_ERR_ code. */
export class PushfleetApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;

  constructor(status: number, body: ApiErrorBody) {
    super(`${body.code}: ${body.message}${body.field ? ` (${body.field})` : ''}`);
    this.name = 'PushfleetApiError';
    this.status = status;
    this.code = body.code;
    this.field = body.field;
  }
}

export interface ClientOptions {
  /** e.g. `https://push.example.com` */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string | undefined;
  /**
   * Attempts on 429 / 503 / network errors and on our own Idempotency-Key still in progress,
   * including the first (default 5).
   */
  maxAttempts?: number | undefined;
  /** Backoff base (default 200 ms): base · 2^n with full jitter, or the server's Retry-After. */
  retryBaseMs?: number | undefined;
  retryMaxMs?: number | undefined;
  /** Defaults to the global `fetch` (Node.js ≥ 18, browsers, Deno, Bun). */
  fetch?: typeof fetch | undefined;
}

/** A token source for uploads; pass a function to make the upload retryable (it is re-read). */
export type TokenSource = Iterable<string> | AsyncIterable<string>;

interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: () => { body: string | ReadableStream<Uint8Array>; contentType: string } | undefined;
  headers?: Record<string, string>;
  /** false for bodies that cannot be sent twice (a one-shot stream). */
  retry?: boolean;
}

const retryable = new Set([429, 503]);

/** An answer worth asking again for: rate limited, the store unavailable, or no answer at all. */
const isTransient = (err: unknown) =>
  (err instanceof PushfleetApiError && retryable.has(err.status)) || err instanceof TypeError;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Typed client for every Pushfleet endpoint. Requests that create something carry an
 * Idempotency-Key (yours, or a generated one), so retrying them on 429/503 is safe.
 */
export class PushfleetClient {
  /** The admin API: apps and their credentials, managed at run time (permission `admin`). */
  readonly apps: AppsApi = new AppsApi(this);
  /** Live Activities: start, update, end; push-to-start and activity token registries. */
  readonly live: LiveActivitiesApi = new LiveActivitiesApi(this);
  /** Broadcast channels and broadcasts (one request reaches every subscribed activity). */
  readonly channels: ChannelsApi = new ChannelsApi(this);
  private readonly fetch: typeof fetch;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly options: ClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 200;
    this.retryMaxMs = options.retryMaxMs ?? 10_000;
  }

  private url(path: string, query?: Record<string, string | number | undefined>): string {
    const url = new URL(path, this.options.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
      ...extra,
    };
  }

  private delayFor(attempt: number, response?: Response): number {
    const retryAfter = Number(response?.headers.get('retry-after'));
    if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(this.retryMaxMs, retryAfter * 1000);
    return Math.random() * Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** attempt);
  }

  /** One request with retries; `body` is a factory so a retry sends a fresh body. */
  async request<T>(method: string, path: string, init: RequestOptions = {}): Promise<T> {
    const text = await (await this.open(method, path, init)).text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Sends a request with retries and returns the successful response unread (for streamed
   * answers); an error status throws PushfleetApiError with the body's PF_ERR_ code.
   */
  private async open(method: string, path: string, init: RequestOptions): Promise<Response> {
    const attempts = init.retry === false ? 1 : this.maxAttempts;
    for (let attempt = 0; ; attempt++) {
      const made =
        init.json !== undefined
          ? { body: JSON.stringify(init.json), contentType: 'application/json' }
          : init.body?.();
      let response: Response;
      try {
        response = await this.fetch(this.url(path, init.query), {
          method,
          headers: this.headers({ ...(made ? { 'content-type': made.contentType } : {}), ...init.headers }),
          body: made?.body ?? null,
          ...(made && typeof made.body === 'object' && 'getReader' in made.body ? { duplex: 'half' } : {}),
        } as RequestInit);
      } catch (err) {
        if (attempt + 1 >= attempts) throw err;
        await sleep(this.delayFor(attempt));
        continue;
      }
      if (retryable.has(response.status) && attempt + 1 < attempts) {
        await response.body?.cancel();
        await sleep(this.delayFor(attempt, response));
        continue;
      }
      if (response.ok) return response;
      const text = await response.text();
      let parsed: ApiErrorBody | undefined;
      try {
        parsed = text ? (JSON.parse(text) as ApiErrorBody) : undefined;
      } catch {
        parsed = undefined; // a proxy's HTML error page: fall back to the status line
      }
      // Our own earlier attempt under the same Idempotency-Key has not finished (its answer was
      // lost, e.g. in a Redis restart): ask again later, it will be replayed or the key freed.
      if (parsed?.code === 'PF_ERR_IDEMPOTENCY_IN_PROGRESS' && attempt + 1 < attempts) {
        await sleep(this.delayFor(attempt, response));
        continue;
      }
      throw new PushfleetApiError(
        response.status,
        parsed ?? { code: `HTTP_${response.status}`, message: response.statusText },
      );
    }
  }

  private app(app: string): string {
    return `/v1/apps/${encodeURIComponent(app)}`;
  }

  sendNotification(
    app: string,
    request: SendNotificationRequest,
    options: { idempotencyKey?: string | undefined } = {},
  ): Promise<SendNotificationResponse> {
    return this.request('POST', `${this.app(app)}/notifications`, {
      json: request,
      headers: { 'idempotency-key': options.idempotencyKey ?? crypto.randomUUID() },
    });
  }

  getNotification(app: string, id: string): Promise<NotificationStatus> {
    return this.request('GET', `${this.app(app)}/notifications/${encodeURIComponent(id)}`);
  }

  cancelNotification(app: string, id: string): Promise<NotificationStatus> {
    return this.request('DELETE', `${this.app(app)}/notifications/${encodeURIComponent(id)}`);
  }

  /** A campaign to registry devices (all, tags, users) or to an inline list (≤ 100,000 tokens). */
  createCampaign(
    app: string,
    spec: CampaignSpec & { audience: RegistryAudience | { kind: 'tokens'; tokens: string[] } },
    options: { idempotencyKey?: string | undefined } = {},
  ): Promise<CreateCampaignResponse> {
    return this.request('POST', `${this.app(app)}/campaigns`, {
      json: spec,
      headers: { 'idempotency-key': options.idempotencyKey ?? crypto.randomUUID() },
    });
  }

  /**
   * A campaign to an uploaded token list of any size, streamed as NDJSON (constant memory on both
   * sides). Pass `tokens` as a function returning a fresh iterable to let the client retry the
   * upload on 429/503; a plain iterable is sent once.
   */
  uploadCampaign(
    app: string,
    spec: CampaignSpec,
    tokens: TokenSource | (() => TokenSource),
    options: { idempotencyKey?: string | undefined } = {},
  ): Promise<CreateCampaignResponse> {
    const source = typeof tokens === 'function' ? tokens : () => tokens;
    return this.request('POST', `${this.app(app)}/campaigns`, {
      body: () => ({ body: ndjsonStream([spec], source()), contentType: 'application/x-ndjson' }),
      headers: { 'idempotency-key': options.idempotencyKey ?? crypto.randomUUID() },
      retry: typeof tokens === 'function',
    });
  }

  getCampaign(app: string, id: string): Promise<CampaignStatus> {
    return this.request('GET', `${this.app(app)}/campaigns/${encodeURIComponent(id)}`);
  }

  listCampaigns(
    app: string,
    query: { limit?: number | undefined; before?: number | undefined } = {},
  ): Promise<{
    items: CampaignStatus[];
    next: number | null;
  }> {
    return this.request('GET', `${this.app(app)}/campaigns`, { query });
  }

  cancelCampaign(app: string, id: string): Promise<CampaignStatus> {
    return this.request('DELETE', `${this.app(app)}/campaigns/${encodeURIComponent(id)}`);
  }

  /**
   * Polls until the campaign is done or cancelled; `onProgress` sees every status read. A 429, a
   * 503 (the store failing over) or a dropped connection does not end the wait, only `timeoutMs`.
   */
  async waitForCampaign(
    app: string,
    id: string,
    options: {
      intervalMs?: number | undefined;
      timeoutMs?: number | undefined;
      onProgress?: ((s: CampaignStatus) => void) | undefined;
    } = {},
  ): Promise<CampaignStatus> {
    const deadline = Date.now() + (options.timeoutMs ?? Number.POSITIVE_INFINITY);
    let last = 'unknown';
    for (;;) {
      let status: CampaignStatus | undefined;
      try {
        status = await this.getCampaign(app, id);
      } catch (err) {
        // A store briefly unavailable (a Redis failover outlasting the request's retries) or a
        // dropped connection says nothing about the campaign: keep waiting until the deadline.
        if (!isTransient(err) || Date.now() > deadline) throw err;
      }
      if (status) {
        options.onProgress?.(status);
        if (status.state === 'done' || status.state === 'cancelled') return status;
        last = status.state;
      }
      if (Date.now() > deadline) throw new Error(`campaign ${id} not finished in time (${last})`);
      await sleep(options.intervalMs ?? 500);
    }
  }

  registerDevice(
    app: string,
    token: string,
    request: DeviceRegistrationRequest = {},
  ): Promise<DeviceRegistration> {
    return this.request('PUT', `${this.app(app)}/devices/${encodeURIComponent(token)}`, { json: request });
  }

  getDevice(app: string, token: string, environment?: Environment): Promise<DeviceRegistration> {
    return this.request('GET', `${this.app(app)}/devices/${encodeURIComponent(token)}`, {
      query: { environment },
    });
  }

  async unregisterDevice(app: string, token: string, environment?: Environment): Promise<void> {
    await this.request('DELETE', `${this.app(app)}/devices/${encodeURIComponent(token)}`, {
      query: { environment },
    });
  }

  /** Bulk import, streamed as NDJSON. Registration is an upsert: a failed import can be re-run. */
  importDevices(
    app: string,
    devices:
      | Iterable<DeviceImportLine>
      | AsyncIterable<DeviceImportLine>
      | (() => Iterable<DeviceImportLine> | AsyncIterable<DeviceImportLine>),
  ): Promise<{ imported: number }> {
    const source = typeof devices === 'function' ? devices : () => devices;
    return this.request('POST', `${this.app(app)}/devices/import`, {
      body: () => ({ body: ndjsonStream([], source()), contentType: 'application/x-ndjson' }),
      retry: typeof devices === 'function',
    });
  }

  /**
   * Every token of a campaign that did not end delivered (rejected, failed, expired, cancelled),
   * with its reason and time, streamed from the API as it arrives: constant memory for any size.
   * `{ format: 'csv' }` yields the CSV lines instead (header first), for writing to a file as is.
   * Complete once the campaign is done; tokens still in flight are not listed yet.
   */
  campaignReport(app: string, id: string, options?: { format?: 'ndjson' }): AsyncGenerator<ReportRow>;
  campaignReport(app: string, id: string, options: { format: 'csv' }): AsyncGenerator<string>;
  campaignReport(app: string, id: string, options: { format?: ReportFormat } = {}) {
    return this.report(`${this.app(app)}/campaigns/${encodeURIComponent(id)}/report`, options.format);
  }

  /** The same report for one notification (`sendNotification`'s id). */
  notificationReport(app: string, id: string, options?: { format?: 'ndjson' }): AsyncGenerator<ReportRow>;
  notificationReport(app: string, id: string, options: { format: 'csv' }): AsyncGenerator<string>;
  notificationReport(app: string, id: string, options: { format?: ReportFormat } = {}) {
    return this.report(`${this.app(app)}/notifications/${encodeURIComponent(id)}/report`, options.format);
  }

  private async *report(path: string, format: ReportFormat = 'ndjson'): AsyncGenerator<ReportRow | string> {
    const response = await this.open('GET', path, { query: { format } });
    if (!response.body) return;
    for await (const line of bodyLines(response.body)) {
      if (!line) continue;
      yield format === 'csv' ? line : (JSON.parse(line) as ReportRow);
    }
  }

  feedback(
    app: string,
    query: { since?: string | undefined; limit?: number | undefined } = {},
  ): Promise<{
    items: FeedbackItem[];
    next: string | null;
  }> {
    return this.request('GET', `${this.app(app)}/feedback`, { query });
  }
}

/** NDJSON as a byte stream, pulled lazily (memory: one chunk of ~1000 lines). */
function ndjsonStream(
  head: unknown[],
  rest: Iterable<unknown> | AsyncIterable<unknown>,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  async function* lines(): AsyncGenerator<Uint8Array> {
    let buffer = head.map((x) => `${JSON.stringify(x)}\n`).join('');
    let n = 0;
    for await (const item of rest as AsyncIterable<unknown>) {
      buffer += `${JSON.stringify(item)}\n`;
      if (++n % 1000 === 0) {
        yield encoder.encode(buffer);
        buffer = '';
      }
    }
    if (buffer) yield encoder.encode(buffer);
  }
  const iterator = lines();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await iterator.return(undefined);
    },
  });
}
