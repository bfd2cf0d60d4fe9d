import assert from 'node:assert/strict';
import type { Http2Transport, SendResult } from '@pushfleet/apns';
import { type Client, closeWithin, newTransport, sendAll, token } from './check.ts';
import { type H2Peer, type PeerSettings, startPeer } from './h2-peer.ts';
import type { Workdir } from './workdir.ts';

/** Short timeouts, so "settles in bounded time" can be checked in a few seconds. */
export const requestTimeoutMs = 1500;

export interface Scenario {
  peer: H2Peer;
  transport: Http2Transport;
  tokens: string[];
  results: SendResult[];
  ms: number;
}

/**
 * Starts a scripted peer, sends `tokens` through a one-connection transport and waits (at most
 * `withinMs`) for every result. The transport stays open for a recovery batch; call `end`.
 */
export async function runScenario(
  work: Workdir,
  client: Client,
  settings: PeerSettings,
  tokens: string[],
  withinMs: number,
  label: string,
): Promise<Scenario> {
  const peer = await startPeer(work, settings, `${label}-${client}`);
  const transport = newTransport(
    { port: peer.port, caPem: work.caPem },
    client,
    { connections: 1, maxInFlightPerConnection: 100, requestTimeoutMs },
    { maxResends: 3 },
  );
  const started = performance.now();
  try {
    const results = await sendAll(transport, tokens, withinMs, 10);
    return { peer, transport, tokens, results, ms: performance.now() - started };
  } catch (error) {
    (error as Error).message += `\n--- ${peer.name} output (tail) ---\n${peer.output().slice(-2000)}`;
    await closeWithin(transport).catch(() => {});
    await peer.stop();
    throw error;
  }
}

export async function endScenario(scenario: Scenario | undefined): Promise<void> {
  if (!scenario) return;
  await closeWithin(scenario.transport).catch(() => {});
  await scenario.peer.stop();
}

/** After the misbehaviour, a fresh batch goes through on a fresh connection. */
export async function assertRecovers(scenario: Scenario, count = 20): Promise<void> {
  const tokens = Array.from({ length: count }, () => token('00'));
  const results = await sendAll(scenario.transport, tokens, 10_000, 10);
  const notAccepted = results.filter((r) => r.kind !== 'accepted');
  assert.deepEqual(
    notAccepted.slice(0, 5),
    [],
    `${notAccepted.length} of ${count} not accepted after recovery`,
  );
}

/** Tokens the peer answered with 200, with how often each. */
export function answeredOk(peer: H2Peer): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of peer.events()) {
    if (e.e !== 'answered' || e.status !== 200 || !e.path) continue;
    const t = e.path.slice(e.path.lastIndexOf('/') + 1);
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return counts;
}

export function tally(results: SendResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    const key = r.kind === 'rejected' ? `rejected ${r.status} ${r.reason}` : r.kind;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

export function okTokens(count: number): string[] {
  return Array.from({ length: count }, () => token('00'));
}
