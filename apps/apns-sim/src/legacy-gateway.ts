import { errorResponse, type LegacyNotification, LegacyStatus, parseNextFrame } from './legacy-frames.ts';
import { type LegacyServer, type LegacyTlsOptions, startLegacyTlsServer } from './legacy-tls.ts';
import { bundleIdOf } from './push-types.ts';
import type { SimContext } from './sim-context.ts';
import { parsedOrText } from './stream-body.ts';
import type { ClientCertificateInfo } from './tls-material.ts';

/** Payload limits of the binary interface (docs/apns-protocol.md §D.5). */
const SIMPLE_MAX_PAYLOAD = 256;
const FRAME_MAX_PAYLOAD = 2048;
const MAX_TOKEN_BYTES = 100;

/** Returns the error status for a notification, or 0 to accept it. */
function check(ctx: SimContext, n: LegacyNotification, cert: ClientCertificateInfo | undefined): number {
  if (n.token.length === 0) return LegacyStatus.MissingDeviceToken;
  const { tokenLength } = ctx.settings;
  const tokenOk =
    tokenLength === 'any' ? n.token.length <= MAX_TOKEN_BYTES : n.token.length * 2 === tokenLength;
  if (!tokenOk) return LegacyStatus.InvalidTokenSize;
  if (n.payload.length === 0) return LegacyStatus.MissingPayload;
  if (n.payload.length > (n.command === 2 ? FRAME_MAX_PAYLOAD : SIMPLE_MAX_PAYLOAD)) {
    return LegacyStatus.InvalidPayloadSize;
  }
  const topic = cert?.topics[0];
  if (cert && !topic) return LegacyStatus.MissingTopic;
  const token = n.token.toString('hex');
  const device = ctx.registry.devices.get(token);
  if (device) {
    if (device.environment !== ctx.settings.environment) return LegacyStatus.InvalidToken;
    if (topic && device.bundleId !== bundleIdOf(topic)) return LegacyStatus.InvalidToken;
  } else if (ctx.settings.strictDevices) {
    return LegacyStatus.InvalidToken;
  }
  return ctx.faults.forLegacy(token) ?? 0;
}

/**
 * The legacy binary gateway: commands 0/1/2 in, a 6-byte error packet out on the first bad
 * notification, after which the connection is closed and everything after it discarded.
 * Success is silent. Status 10 (Shutdown) carries the last good identifier instead (§D.4).
 */
export function startLegacyGateway(ctx: SimContext, options: LegacyTlsOptions): Promise<LegacyServer> {
  return startLegacyTlsServer(ctx, options, (socket, cert) => {
    let buffered: Buffer = Buffer.alloc(0);
    let lastGoodId: Buffer = Buffer.alloc(4);
    let failed = false;
    socket.on('data', (chunk: Buffer) => {
      if (failed) return;
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      for (;;) {
        const step = parseNextFrame(buffered);
        if (step.kind === 'need-more') break;
        if (step.kind === 'error') {
          failed = true;
          ctx.stats.legacyErrors++;
          if (step.command === 0) socket.destroy();
          else socket.end(errorResponse(step.status, step.identifier));
          return;
        }
        const n = step.notification;
        buffered = buffered.subarray(n.size);
        ctx.stats.legacyNotifications++;
        const status = check(ctx, n, cert);
        if (status !== 0) {
          failed = true;
          ctx.stats.legacyErrors++;
          // Command 0 has no error response: a bad notification only drops the connection.
          if (n.command === 0) socket.destroy();
          else
            socket.end(errorResponse(status, status === LegacyStatus.Shutdown ? lastGoodId : n.identifier));
          return;
        }
        const token = n.token.toString('hex');
        lastGoodId = n.identifier;
        // Unregistered devices are accepted silently; the feedback service reports them (§E).
        if (ctx.registry.devices.get(token)?.invalid) continue;
        const payloadText = n.payload.toString('utf8');
        const headers: Record<string, string> = {
          'apns-id': n.identifier.toString('hex'),
          'apns-expiration': String(n.expiry),
          'apns-priority': String(n.priority),
        };
        if (cert?.topics[0]) headers['apns-topic'] = cert.topics[0];
        ctx.stats.accepted++;
        ctx.deliveries.record(
          token,
          {
            apnsId: headers['apns-id']!,
            headers,
            payload: parsedOrText(payloadText),
            body: payloadText,
            receivedAt: ctx.now(),
            via: 'legacy',
          },
          Buffer.from(n.payload),
          n.command === 0 ? undefined : `legacy:${headers['apns-id']}`,
        );
      }
    });
  });
}
