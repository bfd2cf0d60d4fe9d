import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from 'node:http2';
import type { SecureContext } from 'node:tls';
import {
  type BroadcastReasonAction,
  broadcastActionFor,
  type Environment,
  type MessageStoragePolicy,
} from '@pushfleet/core';
import { errorText, isCertificateRefusal, parseStatus, rejectionResult } from './connection.ts';
import { type LoadedCredentials, loadCredentials } from './credentials.ts';
import { JwtSigner } from './jwt-signer.ts';
import type { ApnsCredentials } from './transport.ts';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = constants;

/** APNs' channel-management hosts (docs/apns-protocol.md §F.1): their own names and ports. */
export const channelHosts: Record<Environment, { host: string; port: number }> = {
  sandbox: { host: 'api-manage-broadcast.sandbox.push.apple.com', port: 2195 },
  production: { host: 'api-manage-broadcast.push.apple.com', port: 2196 },
};

export interface ChannelClientTarget {
  environment: Environment;
  credentials: ApnsCredentials;
  /** Overrides Apple's channel-management host (the simulator's `channelPort`); `caPem` is trusted too. */
  endpoint?: { host: string; port: number; caPem?: string };
  /** Every request is answered or failed within this long, connecting included. */
  requestTimeoutMs: number;
}

export interface ChannelClientOptions {
  /** An unused connection is closed after this long (default 60 s); the next request opens one. */
  idleCloseMs?: number;
  jwtRefreshAfterMs?: number;
  /** Clock for provider-token ages (tests); Date.now by default. */
  clock?: () => number;
}

/** A request APNs refused, with its §F.4 reason and what it means (broadcastReasonTable). */
export interface ChannelRejection {
  kind: 'rejected';
  status: number;
  reason: string;
  /** `channel-limit` for CannotCreateChannelConfig (10,000 channels), `channel-gone` for ChannelNotRegistered. */
  action: BroadcastReasonAction;
  requestId: string | undefined;
  /** Seconds, from a Retry-After header. */
  retryAfter?: number;
}

/** No answer: no connection, a timeout, a connection lost mid-request, or credentials that cannot be used. */
export interface ChannelFailed {
  kind: 'failed';
  error: string;
  credentials?: true;
}

/** What a channel-management request came to: a value, never an exception. */
export type ChannelAnswer<T> =
  | ({ kind: 'ok'; requestId: string | undefined } & T)
  | ChannelRejection
  | ChannelFailed;

/** An answer read off the wire, before it is interpreted. */
type RawAnswer =
  | { kind: 'answer'; status: number; headers: Record<string, unknown>; body: Buffer; signer?: JwtSigner }
  | ChannelFailed
  | { kind: 'not-processed'; error: string };

/**
 * The largest answer body read: the list of all channels is the big one (10,000 ids of ~24
 * characters ≈ 270 KB); anything larger is not an APNs answer.
 */
const maxAnswerBytes = 1 << 20;
/** Bundle ids go into the path as they are: reverse-DNS only, so nothing can change the path. */
const bundleIdPattern = /^[A-Za-z0-9.-]+$/;

interface Session {
  session: ClientHttp2Session;
  signer: JwtSigner | undefined;
  /** GOAWAY's last stream id: streams above it were never processed. */
  goawayLastStreamId: number;
  pending: number;
  idleTimer: NodeJS.Timeout | undefined;
  /** The TLS handshake refused our client certificate. */
  certificateRefused: boolean;
}

/**
 * A client for APNs' channel-management API (docs/apns-protocol.md §F.3): create (storage policy
 * 0 or 1), read, list and delete an app's broadcast channels, on the API's own host and port, with
 * a provider token (one JwtSigner per connection, as APNs counts token changes per connection) or
 * the app's certificate.
 *
 * It uses node:http2 rather than the lean client: channels are made and deleted a few at a time,
 * not millions per second, so the lean client's CPU savings buy nothing here, and one lazily
 * opened session that closes when idle is all it needs. Every request is bounded by the request
 * timeout (connecting included); every answer, APNs' refusals included, is a value; no callback
 * throws. A request APNs never processed (a refused stream, one past a GOAWAY) and one refused for
 * an expired provider token (after the signer made a new one) are sent once more.
 */
export class ChannelClient {
  private readonly origin: string;
  private readonly secureContext: SecureContext | undefined;
  private readonly signingKey: LoadedCredentials['signingKey'];
  private readonly clientCertificate: boolean;
  private readonly unusable: ChannelFailed | undefined;
  private current: Session | undefined;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly target: ChannelClientTarget,
    private readonly options: ChannelClientOptions = {},
  ) {
    const host = target.endpoint ?? channelHosts[target.environment];
    this.origin = `https://${host.host}:${host.port}`;
    const outcome = loadCredentials(target);
    if (!outcome.ok) {
      this.unusable = {
        kind: 'failed',
        error: outcome.error,
        ...(outcome.credentials && { credentials: true }),
      };
      this.secureContext = undefined;
      this.signingKey = undefined;
      this.clientCertificate = false;
      return;
    }
    this.unusable = undefined;
    this.secureContext = outcome.loaded.secureContext;
    this.signingKey = outcome.loaded.signingKey;
    this.clientCertificate = outcome.loaded.clientCertificate;
  }

  /** `POST /1/apps/<bundle id>/channels`: a new channel; its id comes back in `apns-channel-id`. */
  async create(
    bundleId: string,
    storagePolicy: MessageStoragePolicy,
    requestId?: string,
  ): Promise<ChannelAnswer<{ channelId: string }>> {
    const body = JSON.stringify({ 'message-storage-policy': storagePolicy, 'push-type': 'LiveActivity' });
    const answer = await this.call('POST', bundleId, 'channels', { requestId, body });
    if (answer.kind !== 'answer') return answer;
    const channelId = answer.headers['apns-channel-id'];
    if (answer.status !== 201 && answer.status !== 200) return this.refusal(answer);
    if (typeof channelId !== 'string' || channelId === '') {
      return { kind: 'failed', error: 'malformed answer: no apns-channel-id' };
    }
    return { kind: 'ok', requestId: requestIdOf(answer), channelId };
  }

  /** `GET /1/apps/<bundle id>/channels`: the channel's storage policy. */
  async read(
    bundleId: string,
    channelId: string,
    requestId?: string,
  ): Promise<ChannelAnswer<{ channelId: string; storagePolicy: MessageStoragePolicy }>> {
    const answer = await this.call('GET', bundleId, 'channels', { requestId, channelId });
    if (answer.kind !== 'answer') return answer;
    if (answer.status !== 200) return this.refusal(answer);
    const parsed = parseJson(answer.body) as { 'message-storage-policy'?: unknown } | undefined;
    const policy = parsed?.['message-storage-policy'];
    if (policy !== 0 && policy !== 1) {
      return { kind: 'failed', error: 'malformed answer: no message-storage-policy 0 or 1' };
    }
    return { kind: 'ok', requestId: requestIdOf(answer), channelId, storagePolicy: policy };
  }

  /** `GET /1/apps/<bundle id>/all-channels`: the ids of every channel the app has in this environment. */
  async list(bundleId: string, requestId?: string): Promise<ChannelAnswer<{ channelIds: string[] }>> {
    const answer = await this.call('GET', bundleId, 'all-channels', { requestId });
    if (answer.kind !== 'answer') return answer;
    if (answer.status !== 200) return this.refusal(answer);
    const channels = (parseJson(answer.body) as { channels?: unknown } | undefined)?.channels;
    if (!Array.isArray(channels) || !channels.every((c) => typeof c === 'string')) {
      return { kind: 'failed', error: 'malformed answer: no channels list' };
    }
    return { kind: 'ok', requestId: requestIdOf(answer), channelIds: channels };
  }

  /** `DELETE /1/apps/<bundle id>/channels`: irreversible; a message already stored may still arrive. */
  async delete(
    bundleId: string,
    channelId: string,
    requestId?: string,
  ): Promise<ChannelAnswer<{ channelId: string }>> {
    const answer = await this.call('DELETE', bundleId, 'channels', { requestId, channelId });
    if (answer.kind !== 'answer') return answer;
    if (answer.status !== 204 && answer.status !== 200) return this.refusal(answer);
    return { kind: 'ok', requestId: requestIdOf(answer), channelId };
  }

  /** Closes the connection (idempotent); requests still running end as failed. */
  close(): Promise<void> {
    this.closed ??= new Promise((resolve) => {
      const current = this.current;
      this.current = undefined;
      if (!current || current.session.destroyed) return resolve();
      clearTimeout(current.idleTimer);
      current.session.once('close', () => resolve());
      current.session.close();
      setTimeout(() => current.session.destroy(), 2000).unref();
    });
    return this.closed;
  }

  private refusal(answer: Extract<RawAnswer, { kind: 'answer' }>): ChannelRejection {
    // No signer here: call() already let it react to ExpiredProviderToken, once.
    const rejected = rejectionResult(answer.status, answer.body, answer.headers['retry-after'], {});
    const result: ChannelRejection = {
      kind: 'rejected',
      status: rejected.status,
      reason: rejected.reason,
      action: broadcastActionFor(rejected.status, rejected.reason),
      requestId: requestIdOf(answer),
    };
    if (rejected.retryAfter !== undefined) result.retryAfter = rejected.retryAfter;
    return result;
  }

  /** One request, sent again once if APNs never processed it or refused an expired provider token. */
  private async call(
    method: 'GET' | 'POST' | 'DELETE',
    bundleId: string,
    resource: 'channels' | 'all-channels',
    extra: { requestId?: string | undefined; channelId?: string; body?: string },
  ): Promise<Extract<RawAnswer, { kind: 'answer' }> | ChannelFailed> {
    if (this.unusable) return this.unusable;
    if (this.closed) return { kind: 'failed', error: 'channel client closed' };
    if (!bundleIdPattern.test(bundleId)) return { kind: 'failed', error: 'not a bundle id' };
    const path = `/1/apps/${bundleId}/${resource}`;
    let answer = await this.once(method, path, extra);
    if (answer.kind === 'not-processed') answer = await this.once(method, path, extra);
    else if (answer.kind === 'answer' && answer.status === 403 && this.tokenExpired(answer)) {
      answer = await this.once(method, path, extra);
    }
    return answer.kind === 'not-processed' ? { kind: 'failed', error: answer.error } : answer;
  }

  /**
   * ExpiredProviderToken: the connection's signer makes a new token if its old one is old enough
   * (§B.2; a younger one means clock skew, and a new token would draw TooManyProviderTokenUpdates).
   * True when it did, so the request is worth sending again.
   */
  private tokenExpired(answer: Extract<RawAnswer, { kind: 'answer' }>): boolean {
    const { signer } = answer;
    if (!signer) return false;
    const generation = signer.generation;
    const rejected = rejectionResult(answer.status, answer.body, undefined, { signer });
    return rejected.reason === 'ExpiredProviderToken' && signer.generation !== generation;
  }

  private session(): Session {
    const current = this.current;
    if (current && !current.session.closed && !current.session.destroyed) return current;
    const session = connect(this.origin, {
      ...(this.secureContext && { secureContext: this.secureContext }),
      settings: { enablePush: false },
    });
    const key = this.signingKey;
    const state: Session = {
      session,
      // One signer per connection: APNs counts provider-token changes per connection (§B.2).
      signer: key
        ? new JwtSigner({
            key: key.key,
            keyId: key.keyId,
            teamId: key.teamId,
            ...(this.options.jwtRefreshAfterMs && { refreshAfterMs: this.options.jwtRefreshAfterMs }),
            ...(this.options.clock && { now: this.options.clock }),
          })
        : undefined,
      goawayLastStreamId: Number.POSITIVE_INFINITY,
      pending: 0,
      idleTimer: undefined,
      certificateRefused: false,
    };
    const forget = () => {
      clearTimeout(state.idleTimer);
      if (this.current === state) this.current = undefined;
    };
    session.on('error', (err) => {
      if (this.clientCertificate && isCertificateRefusal(err)) state.certificateRefused = true;
      forget();
    });
    session.on('goaway', (_code, lastStreamId) => {
      state.goawayLastStreamId = lastStreamId;
      forget();
    });
    session.on('close', forget);
    // An idle session must not keep the process alive; a request in flight does (ref below).
    session.unref();
    this.current = state;
    return state;
  }

  private once(
    method: string,
    path: string,
    extra: { requestId?: string | undefined; channelId?: string; body?: string },
  ): Promise<RawAnswer> {
    return new Promise((resolve) => {
      let state: Session;
      try {
        state = this.session();
      } catch (err) {
        resolve({ kind: 'failed', error: `cannot connect: ${errorText(err)}` });
        return;
      }
      const { session } = state;
      let stream: ClientHttp2Stream | undefined;
      let settled = false;
      const settle = (answer: RawAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (--state.pending === 0 && !session.destroyed) {
          session.unref();
          this.armIdleClose(state);
        }
        resolve(answer);
      };
      state.pending++;
      clearTimeout(state.idleTimer);
      session.ref();
      const timer = setTimeout(() => {
        try {
          stream?.close(NGHTTP2_CANCEL);
        } catch {
          // The stream is gone already; the timeout is the answer either way.
        }
        settle({ kind: 'failed', error: 'request timeout' });
      }, this.target.requestTimeoutMs);
      try {
        const headers: Record<string, string> = { ':method': method, ':path': path };
        if (extra.requestId !== undefined) headers['apns-request-id'] = extra.requestId;
        if (extra.channelId !== undefined) headers['apns-channel-id'] = extra.channelId;
        if (state.signer) headers.authorization = state.signer.authorization();
        stream = session.request(headers, { endStream: extra.body === undefined });
      } catch (err) {
        settle({ kind: 'not-processed', error: errorText(err) });
        return;
      }
      const chunks: Buffer[] = [];
      let length = 0;
      let head: { status: number; headers: Record<string, unknown> } | undefined;
      stream.on('response', (responseHeaders) => {
        const status = parseStatus(responseHeaders[':status']?.toString());
        if (status === undefined) {
          settle({ kind: 'failed', error: 'malformed answer: :status is not three digits' });
          stream?.close(NGHTTP2_CANCEL);
          return;
        }
        head = { status, headers: responseHeaders as Record<string, unknown> };
      });
      stream.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length > maxAnswerBytes) {
          settle({ kind: 'failed', error: 'answer too large' });
          stream?.close(NGHTTP2_CANCEL);
          return;
        }
        chunks.push(chunk);
      });
      const answer = (h: NonNullable<typeof head>): RawAnswer => ({
        kind: 'answer',
        ...h,
        body: Buffer.concat(chunks),
        ...(state.signer && { signer: state.signer }),
      });
      stream.on('end', () => {
        if (head) settle(answer(head));
      });
      stream.on('error', () => {
        // 'close' decides the outcome.
      });
      stream.on('close', () => {
        if (settled) return;
        if (head) return settle(answer(head));
        const id = stream?.id;
        const refused =
          stream?.rstCode === NGHTTP2_REFUSED_STREAM || id === undefined || id > state.goawayLastStreamId;
        if (state.certificateRefused) {
          return settle({
            kind: 'failed',
            error: 'credentials: the server refused the client certificate',
            credentials: true,
          });
        }
        settle(
          refused
            ? { kind: 'not-processed', error: `stream closed before processing (rst ${stream?.rstCode})` }
            : { kind: 'failed', error: `stream closed without an answer (rst ${stream?.rstCode})` },
        );
      });
      if (extra.body !== undefined) stream.end(extra.body);
    });
  }

  private armIdleClose(state: Session): void {
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(() => {
      if (state.pending === 0 && !state.session.destroyed) state.session.close();
    }, this.options.idleCloseMs ?? 60_000);
    state.idleTimer.unref();
  }
}

function requestIdOf(answer: { headers: Record<string, unknown> }): string | undefined {
  const id = answer.headers['apns-request-id'];
  return typeof id === 'string' ? id : undefined;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
