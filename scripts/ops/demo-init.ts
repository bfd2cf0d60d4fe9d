/**
 * Compose demo, step 1 (one-shot): writes the material the demo stack shares through the `demo`
 * volume: the simulator's CA and server certificate (valid for the `apns-sim` host name) and a
 * provider signing key (.p8) with the key id and team id that deploy/compose/pushfleet.yaml names.
 * Idempotent: existing files are kept, so a restarted stack keeps trusting the same CA.
 * Demo material only: it is generated, never committed, and is no production credential.
 *
 *   node --import tsx scripts/ops/demo-init.ts [--out /demo] [--sim-host apns-sim]
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createCertificateAuthority, createServerCertificate } from '../../apps/apns-sim/src/tls-material.ts';

/** Must match deploy/compose/pushfleet.yaml. */
export const demoKey = { keyId: 'DEMOKEY001', teamId: 'DEMOTEAM01' } as const;

export interface DemoFiles {
  caFile: string;
  simCertFile: string;
  simKeyFile: string;
  providerKeyFile: string;
  providerPublicKeyFile: string;
}

export function demoFiles(out: string): DemoFiles {
  return {
    caFile: join(out, 'ca.pem'),
    simCertFile: join(out, 'sim-cert.pem'),
    simKeyFile: join(out, 'sim-key.pem'),
    providerKeyFile: join(out, `AuthKey_${demoKey.keyId}.p8`),
    providerPublicKeyFile: join(out, 'provider-public.pem'),
  };
}

export function writeDemoMaterial(out: string, simHost: string): { files: DemoFiles; created: boolean } {
  const files = demoFiles(out);
  if (Object.values(files).every((file) => existsSync(file))) return { files, created: false };
  mkdirSync(out, { recursive: true });
  const ca = createCertificateAuthority();
  const server = createServerCertificate(ca, [simHost]);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  // 0644: the pushfleet containers run as another user than this one-shot job.
  const write = (file: string, text: string) => writeFileSync(file, text, { mode: 0o644 });
  write(files.caFile, ca.certPem);
  write(files.simCertFile, server.certPem);
  write(files.simKeyFile, server.keyPem);
  write(files.providerKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  write(files.providerPublicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }).toString());
  return { files, created: true };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: '/demo' },
      'sim-host': { type: 'string', default: 'apns-sim' },
    },
  });
  const { files, created } = writeDemoMaterial(values.out, values['sim-host']);
  process.stdout.write(`${JSON.stringify({ event: created ? 'created' : 'kept', ...files })}\n`);
}
