import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** PEM-encoded certificate and private key. */
export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends CertAndKey {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

/** Topics extension of Apple push certificates (docs/apns-protocol.md §A.4, §A.13). */
export const APPLE_TOPICS_OID = '1.2.840.113635.100.6.3.6';
/** Marks an Apple push certificate valid for the development (sandbox) environment. */
export const APPLE_DEVELOPMENT_OID = '1.2.840.113635.100.6.3.1';
/** Marks an Apple push certificate valid for the production environment. */
export const APPLE_PRODUCTION_OID = '1.2.840.113635.100.6.3.2';

export type CertEnvironment = 'sandbox' | 'production' | 'both';

// node:crypto makes the RSA keys (fast, native); forge only builds and signs the X.509 structures.
function rsaKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

function serial(): string {
  // DER INTEGERs must be positive and minimal: first byte 0x01–0x7f, never a 0x00 pad.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, notBefore: Date, notAfter: Date): void {
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
}

const DAY = 24 * 60 * 60 * 1000;

export function createCertificateAuthority(): CertificateAuthority {
  const { privateKey, publicKey } = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  validity(cert, new Date(Date.now() - DAY), new Date(Date.now() + 365 * DAY));
  const attrs = [
    { name: 'commonName', value: 'Pushfleet APNs Simulator CA' },
    { name: 'organizationName', value: 'Pushfleet' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return {
    cert,
    key: privateKey,
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyToPem(privateKey),
  };
}

/** Loads an existing CA (e.g. `--ca-cert/--ca-key`), so clients can trust it across restarts. */
export function loadCertificateAuthority(pems: CertAndKey): CertificateAuthority {
  const cert = forge.pki.certificateFromPem(pems.certPem);
  const key = forge.pki.privateKeyFromPem(pems.keyPem) as forge.pki.rsa.PrivateKey;
  return { cert, key, certPem: pems.certPem, keyPem: pems.keyPem };
}

/**
 * The server certificate of the provider and channel APIs. Its names cover localhost and Apple's host names,
 * so clients that keep `api.sandbox.push.apple.com` as TLS servername still verify it.
 */
export function createServerCertificate(ca: CertificateAuthority, extraHosts: string[] = []): CertAndKey {
  const { privateKey, publicKey } = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  validity(cert, new Date(Date.now() - DAY), new Date(Date.now() + 365 * DAY));
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer(ca.cert.subject.attributes);
  const dnsNames = [
    'localhost',
    'api.push.apple.com',
    'api.sandbox.push.apple.com',
    'api.development.push.apple.com',
    // Channel management (§F.1) and the broadcast host of Apple's own examples (§F.1 discrepancy).
    'api-manage-broadcast.push.apple.com',
    'api-manage-broadcast.sandbox.push.apple.com',
    'api-broadcast.push.apple.com',
    'api-broadcast.sandbox.push.apple.com',
    'gateway.push.apple.com',
    'gateway.sandbox.push.apple.com',
    'feedback.push.apple.com',
    'feedback.sandbox.push.apple.com',
    ...extraHosts.filter((h) => !/^[\d.:]+$/.test(h)),
  ];
  const ips = ['127.0.0.1', '::1', ...extraHosts.filter((h) => /^[\d.:]+$/.test(h))];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...dnsNames.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))],
    },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(privateKey) };
}

export interface ClientCertificateOptions {
  /** Topics, first one the bundle id; written to the Apple topics extension. */
  topics: string[];
  environment?: CertEnvironment;
  /** Sign with a throwaway CA instead of the simulator's, to provoke BadCertificate. */
  untrusted?: boolean;
  /** Make the certificate already expired, to provoke BadCertificate. */
  expired?: boolean;
}

/**
 * The topics extension value, shaped like Apple's: a SEQUENCE of UTF8String topic, each
 * followed by a SEQUENCE naming its kind ('app', 'voip', 'complication').
 */
function topicsExtensionValue(topics: string[]): string {
  const { asn1 } = forge;
  const items: forge.asn1.Asn1[] = [];
  for (const topic of topics) {
    const kind = topic.endsWith('.voip') ? 'voip' : topic.endsWith('.complication') ? 'complication' : 'app';
    items.push(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(topic)));
    items.push(
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, kind),
      ]),
    );
  }
  return asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items)).getBytes();
}

/** A NULL-valued marker extension, as Apple's environment extensions are. */
function markerExtension(id: string): { id: string; value: string } {
  const { asn1 } = forge;
  return { id, value: asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')).getBytes() };
}

/**
 * A client certificate in the shape of an Apple push certificate. Environment is encoded as
 * Apple does: extension 1.2.840.113635.100.6.3.1 (development/sandbox), …6.3.2 (production),
 * both for a universal certificate. The subject UID carries the bundle id.
 */
export function createClientCertificate(
  ca: CertificateAuthority,
  options: ClientCertificateOptions,
): CertAndKey {
  const environment = options.environment ?? 'both';
  const signer = options.untrusted ? createCertificateAuthority() : ca;
  const { privateKey, publicKey } = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  if (options.expired) validity(cert, new Date(Date.now() - 10 * DAY), new Date(Date.now() - DAY));
  else validity(cert, new Date(Date.now() - DAY), new Date(Date.now() + 365 * DAY));
  const bundleId = options.topics[0] ?? 'unknown';
  const prefix = environment === 'sandbox' ? 'Apple Development IOS Push Services' : 'Apple Push Services';
  cert.setSubject([
    { type: '0.9.2342.19200300.100.1.1', value: bundleId },
    { name: 'commonName', value: `${prefix}: ${bundleId}` },
    { name: 'organizationName', value: 'Pushfleet Simulator Client' },
  ]);
  cert.setIssuer(signer.cert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', clientAuth: true },
  ];
  if (environment !== 'production') extensions.push(markerExtension(APPLE_DEVELOPMENT_OID));
  if (environment !== 'sandbox') extensions.push(markerExtension(APPLE_PRODUCTION_OID));
  extensions.push({ id: APPLE_TOPICS_OID, value: topicsExtensionValue(options.topics) });
  cert.setExtensions(extensions);
  cert.sign(signer.key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(privateKey) };
}

export interface ClientCertificateInfo {
  topics: string[];
  environment: CertEnvironment;
}

/** Reads topics and environment back from a DER client certificate (see createClientCertificate). */
export function readClientCertificate(der: Buffer): ClientCertificateInfo {
  const cert = forge.pki.certificateFromAsn1(
    forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary'))),
  );
  const topics: string[] = [];
  let dev = false;
  let prod = false;
  for (const ext of cert.extensions as Array<{ id: string; value: string }>) {
    if (ext.id === APPLE_DEVELOPMENT_OID) dev = true;
    else if (ext.id === APPLE_PRODUCTION_OID) prod = true;
    else if (ext.id === APPLE_TOPICS_OID) {
      const seq = forge.asn1.fromDer(ext.value);
      for (const item of seq.value as forge.asn1.Asn1[]) {
        if (item.type === forge.asn1.Type.UTF8 && typeof item.value === 'string') {
          topics.push(forge.util.decodeUtf8(item.value));
        }
      }
    }
  }
  if (topics.length === 0) {
    // Older single-topic certificates carry the bundle id only in the subject UID.
    const uid = cert.subject.getField({ type: '0.9.2342.19200300.100.1.1' }) as { value?: string } | null;
    if (uid?.value) topics.push(uid.value);
  }
  const environment: CertEnvironment = dev && !prod ? 'sandbox' : prod && !dev ? 'production' : 'both';
  return { topics, environment };
}
