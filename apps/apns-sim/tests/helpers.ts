import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { once } from 'node:events';
import { type ClientHttp2Session, connect, constants, type IncomingHttpHeaders } from 'node:http2';
import { type RunningSimulator, type SimulatorOptions, startSimulator } from '../src/index.ts';
import { type CertAndKey, createCertificateAuthority, createServerCertificate } from '../src/tls-material.ts';

export const TOPIC = 'com.example.app';

export interface TestKey {
  keyId: string;
  teamId: string;
  privateKey: KeyObject;
  publicKeyPem: string;
}

export function makeKey(keyId = randomId(), teamId = randomId()): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    keyId,
    teamId,
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function randomId(): string {
  return randomBytes(5).toString('hex').toUpperCase();
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('hex');
}

/** An ES256 provider token; `encoding` picks raw R‖S (JOSE) or DER signatures. */
export function jwt(
  key: TestKey,
  options: { iat?: number; encoding?: 'raw' | 'der'; alg?: string; kid?: string; iss?: string } = {},
): string {
  const header = Buffer.from(
    JSON.stringify({ alg: options.alg ?? 'ES256', kid: options.kid ?? key.keyId }),
  ).toString('base64url');
  const claims = Buffer.from(
    JSON.stringify({ iss: options.iss ?? key.teamId, iat: options.iat ?? Math.floor(Date.now() / 1000) }),
  ).toString('base64url');
  const signature = sign('sha256', Buffer.from(`${header}.${claims}`), {
    key: key.privateKey,
    dsaEncoding: options.encoding === 'der' ? 'der' : 'ieee-p1363',
  });
  return `${header}.${claims}.${signature.toString('base64url')}`;
}

export interface SimFixture {
  sim: RunningSimulator;
  key: TestKey;
  bearer: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON from the wire, asserted field by field
  control(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  connect(tls?: { certPem: string; keyPem: string }): Promise<ClientHttp2Session>;
  /** A connection to the channel-management port. */
  connectChannels(tls?: { certPem: string; keyPem: string }): Promise<ClientHttp2Session>;
  close(): Promise<void>;
}

// RSA key generation dominates start-up time; one CA and server certificate serve every test in a file.
let material: { ca: CertAndKey; server: CertAndKey } | undefined;
function tlsMaterial(): { ca: CertAndKey; server: CertAndKey } {
  if (!material) {
    const ca = createCertificateAuthority();
    material = { ca: { certPem: ca.certPem, keyPem: ca.keyPem }, server: createServerCertificate(ca) };
  }
  return material;
}

/** Boots an in-process simulator with one registered key; tracks sessions so close() cleans up. */
export async function startFixture(options: SimulatorOptions = {}): Promise<SimFixture> {
  const { ca, server } = tlsMaterial();
  const sim = await startSimulator({
    logLevel: 'silent',
    ca,
    tlsCertPem: server.certPem,
    tlsKeyPem: server.keyPem,
    tlsCaPem: ca.certPem,
    ...options,
  });
  const key = makeKey();
  const sessions = new Set<ClientHttp2Session>();
  const control = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${sim.controlPort}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  await control('POST', '/keys', { keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
  const open = (port: number, tls?: { certPem: string; keyPem: string }): Promise<ClientHttp2Session> =>
    new Promise((resolve, reject) => {
      const session = connect(`https://127.0.0.1:${port}`, {
        ca: sim.caPem,
        servername: 'localhost',
        ...(tls ? { cert: tls.certPem, key: tls.keyPem } : {}),
      });
      sessions.add(session);
      // Connection-level failures (resets, GOAWAY) surface on the streams; tests assert those.
      session.on('error', () => {});
      session.on('close', () => sessions.delete(session));
      // Ready once the server's first SETTINGS arrived, so remoteSettings is the server's.
      Promise.all([once(session, 'connect'), once(session, 'remoteSettings')]).then(
        () => resolve(session),
        reject,
      );
    });
  return {
    sim,
    key,
    bearer: `bearer ${jwt(key)}`,
    control,
    connect: (tls) => open(sim.port, tls),
    connectChannels: (tls) => open(sim.channelPort, tls),
    async close() {
      for (const s of sessions) s.destroy();
      await sim.close();
    },
  };
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: JSON from the wire, asserted field by field
  body: any;
}

/** One request on a plain node:http2 client (not the project's transport). */
export function post(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string | string[]>,
  body: string | Buffer = '{"aps":{"alert":"hi"}}',
  method = 'POST',
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': method, ':path': path, ...headers });
    let responseHeaders: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      responseHeaders = h;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({
        status: Number(responseHeaders[':status']),
        headers: responseHeaders,
        body: text ? JSON.parse(text) : undefined,
      });
    });
    req.on('error', reject);
    if (req.writableEnded) return;
    req.end(body);
  });
}

export function send(
  session: ClientHttp2Session,
  token: string,
  headers: Record<string, string | string[]>,
  body?: string | Buffer,
): Promise<Response> {
  return post(
    session,
    `/3/device/${token}`,
    { 'apns-topic': TOPIC, 'apns-push-type': 'alert', ...headers },
    body,
  );
}

export { constants };

/** A request with any method to any path (channel management, broadcasts); GET/DELETE send no body. */
export function request(
  session: ClientHttp2Session,
  method: string,
  path: string,
  headers: Record<string, string | string[]>,
  body: string | Buffer = '',
): Promise<Response> {
  return post(session, path, headers, body, method);
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
