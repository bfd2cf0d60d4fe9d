import { feedbackTuple } from './legacy-frames.ts';
import { type LegacyServer, type LegacyTlsOptions, startLegacyTlsServer } from './legacy-tls.ts';
import { bundleIdOf } from './push-types.ts';
import type { SimContext } from './sim-context.ts';

/**
 * The legacy feedback service (docs/apns-protocol.md §E): right after the handshake it writes one
 * tuple per unregistered token of the certificate's app and closes. The list is cleared once
 * read, so the next connection gets only newer entries.
 */
export function startLegacyFeedback(ctx: SimContext, options: LegacyTlsOptions): Promise<LegacyServer> {
  return startLegacyTlsServer(ctx, options, (socket, cert) => {
    const bundleIds = cert ? new Set(cert.topics.map(bundleIdOf)) : undefined;
    const tuples = ctx.registry.takeFeedback(bundleIds);
    ctx.stats.feedbackReads++;
    const body = Buffer.concat(
      tuples.map((t) => feedbackTuple(Math.floor(t.timestamp / 1000), Buffer.from(t.token, 'hex'))),
    );
    socket.end(body);
  });
}
