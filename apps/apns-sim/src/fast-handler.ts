import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { SimContext } from './sim-context.ts';

/**
 * The benchmark sink: every stream gets 200 with an apns-id and nothing is parsed or stored,
 * so a benchmark measures the client, not the simulator (pushy's BenchmarkApnsServer idea).
 */
export function createFastHandler(
  ctx: SimContext,
): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void {
  const fixedId = randomUUID();
  return (stream, headers) => {
    ctx.stats.requests++;
    const id = headers['apns-id'];
    // Answer after the body so the client never sees its upload cut short by an early close.
    stream.on('end', () => {
      if (stream.closed || stream.destroyed) return;
      stream.respond(
        { ':status': 200, 'apns-id': typeof id === 'string' ? id : fixedId },
        { endStream: true },
      );
      ctx.stats.accepted++;
      ctx.deliveries.total++;
    });
    stream.resume();
  };
}
