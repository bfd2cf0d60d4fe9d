import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { PushfleetError } from '@pushfleet/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** Fastify's own request errors, mapped onto the stable PF_ERR_ catalogue. */
const fastifyCodes: Record<string, PushfleetError['code']> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'PF_ERR_INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'PF_ERR_INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PF_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'PF_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'PF_ERR_INVALID_JSON',
  FST_ERR_MAX_PARAM_LENGTH: 'PF_ERR_VALIDATION',
};

/**
 * Redis down, hung or mid-failover: standalone and Sentinel (closed / refused / timed out / a
 * demoted primary answering READONLY) and Cluster (no ready node, CLUSTERDOWN, slots moving).
 */
const redisUnavailable =
  /Stream isn't writeable|Connection is closed|ECONNREFUSED|ETIMEDOUT|Reached the max retries|enableOfflineQueue|Command timed out|All sentinels are unreachable|READONLY|CLUSTERDOWN|TRYAGAIN|None of startup nodes|Failed to refresh slots cache/i;

export function isRedisUnavailable(err: unknown): boolean {
  return redisUnavailable.test((err as Error | undefined)?.message ?? '');
}

export function toPushfleetError(err: unknown): PushfleetError {
  if (err instanceof PushfleetError) return err;
  const fastifyError = err as FastifyError;
  const mapped = fastifyError.code ? fastifyCodes[fastifyError.code] : undefined;
  if (mapped) return new PushfleetError(mapped, undefined, { cause: err });
  // Any other request error Fastify raises (4xx) is the client's: keep the stable code contract.
  const status = fastifyError.statusCode ?? 0;
  if (fastifyError.code?.startsWith('FST_') && status >= 400 && status < 500) {
    return new PushfleetError('PF_ERR_VALIDATION', fastifyError.message, { cause: err });
  }
  if (err instanceof SyntaxError) return new PushfleetError('PF_ERR_INVALID_JSON', undefined, { cause: err });
  if (isRedisUnavailable(err))
    return new PushfleetError('PF_ERR_REDIS_UNAVAILABLE', undefined, { cause: err });
  return new PushfleetError('PF_ERR_INTERNAL', undefined, { cause: err });
}

/** The one way an error leaves the API: a catalogued body, a log line for 5xx, a metric by code. */
export function createErrorHandler(countError: (code: string) => void) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const error = toPushfleetError(err);
    if (error.status >= 500) request.log.error({ err }, 'request failed');
    countError(error.code);
    // A streamed body the route did not read to its end (an upload refused early) is still on the
    // connection: the next request on it would never be parsed. Close it after this answer.
    const body = request.body;
    if (body instanceof Readable && !body.readableEnded) void reply.header('connection', 'close');
    void reply.status(error.status).send(error.toBody());
  };
}

/**
 * Errors Node's HTTP parser raises before Fastify has a request (headers over the limit, malformed
 * HTTP): answered with a catalogued JSON body, then the connection is closed (its bytes cannot be
 * trusted to frame the next request).
 */
export function clientErrorHandler(countError: (code: string) => void) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    if (err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.destroy();
      return;
    }
    const error = new PushfleetError(tooLarge ? 'PF_ERR_HEADERS_TOO_LARGE' : 'PF_ERR_BAD_REQUEST');
    countError(error.code);
    const body = JSON.stringify(error.toBody());
    const reason = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
    socket.end(
      `HTTP/1.1 ${error.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}
