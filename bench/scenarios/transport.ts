import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { generateProviderKey, repoRoot } from '@pushfleet/testkit';
import { benchTokens, benchTopic } from '../lib/bench-tokens.ts';
import { hasCommand, nghttpdSink, type Sink, simulatorSink } from '../lib/sinks.ts';

export const contenders = ['pushfleet', 'pushfleet on node:http2', 'node-apn', 'node-http2'] as const;

export interface ContenderResult {
  name: string;
  sink: string;
  perSecond: number;
  cpuUsPerNotification: number;
  accepted: number;
  sent: number;
  ratioToNodeApn?: number;
}

/** Runs one contender (bench/lib/contender.ts) as its own process against `sink`. */
export function runContender(
  name: string,
  sink: Sink,
  keyFile: string,
  key: { keyId: string; teamId: string },
  count: number,
) {
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/lib/contender.ts',
      name,
      String(sink.port),
      sink.caFile,
      keyFile,
      key.keyId,
      key.teamId,
      String(count),
    ],
    { cwd: repoRoot, encoding: 'utf8', timeout: 600_000 },
  );
  return { ...JSON.parse(out.trim().split('\n').at(-1)!), sink: sink.name } as ContenderResult;
}

/** The C client's ceiling against a sink: h2load on one connection with a 1000-stream window. */
function h2loadCeiling(sink: Sink, count: number): ContenderResult | undefined {
  if (!hasCommand('h2load')) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-h2load-'));
  const payloadFile = join(dir, 'payload.json');
  const prepared = prepareNotification(
    notificationSchema.parse({
      alert: { title: 'Pushfleet bench', body: 'Hello from the fleet' },
      sound: 'default',
    }),
    benchTopic,
  );
  writeFileSync(payloadFile, prepared.payload);
  const out = execFileSync(
    'h2load',
    [
      '-n',
      String(count),
      '-c',
      '1',
      '-m',
      '1000',
      '-d',
      payloadFile,
      '-H',
      `apns-topic: ${benchTopic}`,
      '-H',
      'apns-push-type: alert',
      `https://127.0.0.1:${sink.port}/3/device/${benchTokens()[0]}`,
    ],
    { encoding: 'utf8', timeout: 300_000 },
  );
  const rate = Number(out.match(/finished in [\d.]+m?s, ([\d.]+) req\/s/)?.[1]);
  const ok = Number(out.match(/status codes: (\d+) 2xx/)?.[1]);
  return {
    name: 'h2load',
    sink: sink.name,
    perSecond: rate,
    cpuUsPerNotification: Number.NaN,
    accepted: ok,
    sent: count,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Runs each contender `rounds` times, in a rotated order each round, and keeps the median rate
 * and CPU: a noisy neighbour then hurts no contender more than another.
 */
function runRounds(
  sink: Sink,
  keyFile: string,
  key: { keyId: string; teamId: string },
  count: number,
  rounds: number,
) {
  const runs = new Map<string, ContenderResult[]>(contenders.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = [
      ...contenders.slice(round % contenders.length),
      ...contenders.slice(0, round % contenders.length),
    ];
    for (const name of order) runs.get(name)!.push(runContender(name, sink, keyFile, key, count));
  }
  return [...runs.values()].map((results) => ({
    ...results[0]!,
    perSecond: median(results.map((r) => r.perSecond)),
    cpuUsPerNotification: median(results.map((r) => r.cpuUsPerNotification)),
    rounds: results.length,
  }));
}

export async function transportScenario(count: number, log: (line: string) => void, rounds = 3) {
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-bench-'));
  const key = generateProviderKey();
  const keyFile = join(dir, 'AuthKey.p8');
  writeFileSync(keyFile, key.privateKeyPem);
  const results: ContenderResult[] = [];
  const sinks: (() => Promise<Sink | undefined>)[] = [simulatorSink, nghttpdSink];
  for (const startSink of sinks) {
    const sink = await startSink();
    if (!sink) {
      log('nghttpd not installed: skipping that sink (apt-get install nghttp2-server)');
      continue;
    }
    try {
      const bySink: ContenderResult[] = runRounds(sink, keyFile, key, count, rounds);
      const ceiling = h2loadCeiling(sink, count);
      if (ceiling) bySink.push(ceiling);
      const bare = bySink.find((r) => r.name === 'node-apn')!;
      for (const r of bySink) {
        r.ratioToNodeApn = r.perSecond / bare.perSecond;
        log(
          `${sink.name.padEnd(14)} ${r.name.padEnd(11)} ${Math.round(r.perSecond).toString().padStart(7)}/s  ` +
            `${Number.isNaN(r.cpuUsPerNotification) ? '    —' : r.cpuUsPerNotification.toFixed(1).padStart(5)} CPU-µs  ${r.ratioToNodeApn.toFixed(2)}× node-apn`,
        );
      }
      results.push(...bySink);
    } finally {
      await sink.stop();
    }
  }
  return results;
}
