import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@pushfleet/testkit';
import {
  createCertificateAuthority,
  createServerCertificate,
} from '../../../apps/apns-sim/src/tls-material.ts';

/** Templates and scripts of the servers, beside this folder. */
export const serversDir = new URL('../servers/', import.meta.url).pathname;
export const peersDir = new URL('../peers/', import.meta.url).pathname;

/**
 * A temp dir with a fresh CA and a server certificate for 127.0.0.1 and localhost, where each
 * server's rendered config, logs and pid files go. Readable by all: Apache and h2o drop to
 * `nobody` when started as root and still read their scripts from here.
 */
export interface Workdir {
  readonly dir: string;
  readonly caPem: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** Certificate and key in one file (HAProxy's `crt`). */
  readonly bundleFile: string;
  path(name: string): string;
  /** Fills `{{NAME}}` placeholders of a template in servers/ and writes it here under `name`. */
  render(template: string, name: string, vars: Record<string, string | number>): string;
  remove(): void;
}

export function createWorkdir(label: string): Workdir {
  const dir = mkdtempSync(join(tmpdir(), `pushfleet-interop-${label.replace(/[^\w.-]+/g, '-')}-`));
  chmodSync(dir, 0o755);
  const ca = createCertificateAuthority();
  const server = createServerCertificate(ca);
  const path = (name: string) => join(dir, name);
  const write = (name: string, text: string) => {
    writeFileSync(path(name), text, { mode: 0o644 });
    return path(name);
  };
  const certFile = write('server.pem', server.certPem);
  const keyFile = write('server-key.pem', server.keyPem);
  const bundleFile = write('server-bundle.pem', server.certPem + server.keyPem);
  return {
    dir,
    caPem: ca.certPem,
    certFile,
    keyFile,
    bundleFile,
    path,
    render(template, name, vars) {
      const text = readFileSync(join(serversDir, template), 'utf8').replace(
        /\{\{(\w+)\}\}/g,
        (whole, key: string) => {
          const value = vars[key];
          if (value === undefined) throw new Error(`${template}: no value for ${whole}`);
          return String(value);
        },
      );
      return write(name, text);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { freePort };
