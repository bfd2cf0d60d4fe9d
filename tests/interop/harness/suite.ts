import { after, before, describe, test } from 'node:test';
import { type Client, checkDelivery, clients, type DeliveryCheck } from './check.ts';
import type { InteropServer } from './servers.ts';
import { createWorkdir, type Workdir } from './workdir.ts';

export interface InteropConfig {
  /** Short, unique within the server: names the test and the server's files. */
  name: string;
  /** Overrides of the delivery check for this configuration (pool shape, bound, count). */
  check?: Partial<DeliveryCheck>;
}

/**
 * One describe per server: a work dir with fresh TLS material, then per configuration a server
 * started once and the delivery check run with each HTTP/2 client against it.
 */
export function interopSuite<C extends InteropConfig>(
  server: string,
  skip: string | false,
  configs: readonly C[],
  start: (work: Workdir, config: C) => Promise<InteropServer>,
): void {
  describe(server, { skip }, () => {
    let work: Workdir | undefined;
    before(() => {
      work = createWorkdir(server);
    });
    after(() => work?.remove());
    for (const config of configs) {
      describe(config.name, () => {
        let running: InteropServer | undefined;
        before(async () => {
          running = await start(work!, config);
        });
        after(() => running?.stop());
        for (const client of clients) {
          test(client, async () => {
            await checkClient(running!, work!.caPem, client, config.check);
          });
        }
      });
    }
  });
}

async function checkClient(
  server: InteropServer,
  caPem: string,
  client: Client,
  check: Partial<DeliveryCheck> = {},
) {
  try {
    await checkDelivery({ port: server.port, caPem }, client, { ...server.expect, ...check });
  } catch (error) {
    // The server's own account of what went wrong, with the assertion.
    (error as Error).message += `\n--- ${server.name} output (tail) ---\n${server.output().slice(-1500)}`;
    throw error;
  }
}
