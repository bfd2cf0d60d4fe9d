import { readFileSync } from 'node:fs';
import { parseArgs as parseNodeArgs } from 'node:util';
import { z } from 'zod';
import type { SimulatorOptions } from './start-simulator.ts';

const port = z.coerce.number().int().min(0).max(65535);
const count = z.coerce.number().int().positive();

const flags = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(0),
  'control-port': port.default(0),
  'channel-port': port.default(0),
  'channel-limit': count.default(10_000),
  mode: z.enum(['validating', 'fast']).default('validating'),
  environment: z.enum(['sandbox', 'production']).default('sandbox'),
  'tls-cert': z.string().optional(),
  'tls-key': z.string().optional(),
  'tls-ca': z.string().optional(),
  'ca-cert': z.string().optional(),
  'ca-key': z.string().optional(),
  'max-concurrent-streams': count.default(1000),
  'token-initial-streams': z.coerce.number().int().nonnegative().default(0),
  'drop-to-one-after-rejection': z.boolean().default(false),
  'idle-timeout-ms': z.coerce.number().int().nonnegative().default(0),
  'token-length': z.union([z.literal('any'), z.coerce.number().int().positive().multipleOf(2)]).default(64),
  'strict-devices': z.boolean().default(false),
  'legacy-gateway-port': port.optional(),
  'feedback-port': port.optional(),
  'legacy-allow-anonymous': z.boolean().default(false),
  'log-level': z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
});

const stringFlags = [
  'host',
  'port',
  'control-port',
  'channel-port',
  'channel-limit',
  'mode',
  'environment',
  'tls-cert',
  'tls-key',
  'tls-ca',
  'ca-cert',
  'ca-key',
  'max-concurrent-streams',
  'token-initial-streams',
  'idle-timeout-ms',
  'token-length',
  'legacy-gateway-port',
  'feedback-port',
  'log-level',
] as const;
const booleanFlags = ['drop-to-one-after-rejection', 'strict-devices', 'legacy-allow-anonymous'] as const;

/** Parses the CLI flags once, at the edge, into startSimulator options (README "Flags"). */
export function parseArgs(argv: string[]): Readonly<SimulatorOptions> {
  const { values } = parseNodeArgs({
    args: argv,
    options: {
      ...Object.fromEntries(stringFlags.map((f) => [f, { type: 'string' as const }])),
      ...Object.fromEntries(booleanFlags.map((f) => [f, { type: 'boolean' as const }])),
    },
    strict: true,
    allowPositionals: false,
  });
  const result = flags.safeParse(values);
  if (!result.success) {
    throw new Error(result.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const f = result.data;
  if ((f['tls-cert'] === undefined) !== (f['tls-key'] === undefined)) {
    throw new Error('--tls-cert and --tls-key go together');
  }
  const options: SimulatorOptions = {
    host: f.host,
    port: f.port,
    controlPort: f['control-port'],
    channelPort: f['channel-port'],
    channelLimit: f['channel-limit'],
    mode: f.mode,
    environment: f.environment,
    maxConcurrentStreams: f['max-concurrent-streams'],
    tokenInitialStreams: f['token-initial-streams'],
    dropToOneAfterRejection: f['drop-to-one-after-rejection'],
    idleTimeoutMs: f['idle-timeout-ms'],
    tokenLength: f['token-length'],
    strictDevices: f['strict-devices'],
    legacyAllowAnonymous: f['legacy-allow-anonymous'],
    logLevel: f['log-level'],
  };
  if (f['tls-cert'] && f['tls-key']) {
    options.tlsCertPem = readFileSync(f['tls-cert'], 'utf8');
    options.tlsKeyPem = readFileSync(f['tls-key'], 'utf8');
    if (f['tls-ca']) options.tlsCaPem = readFileSync(f['tls-ca'], 'utf8');
  }
  if ((f['ca-cert'] === undefined) !== (f['ca-key'] === undefined))
    throw new Error('--ca-cert and --ca-key go together');
  if (f['ca-cert'] && f['ca-key']) {
    options.ca = { certPem: readFileSync(f['ca-cert'], 'utf8'), keyPem: readFileSync(f['ca-key'], 'utf8') };
  }
  if (f['legacy-gateway-port'] !== undefined) options.legacyGatewayPort = f['legacy-gateway-port'];
  if (f['feedback-port'] !== undefined) options.feedbackPort = f['feedback-port'];
  return Object.freeze(options);
}
