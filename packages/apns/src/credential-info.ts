import { createHash, createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { Environment } from '@pushfleet/core';
import forge from 'node-forge';
import type { ApnsCredentials } from './transport.ts';

/** Apple's topics extension: the bundle ids (and .voip, .complication) a push certificate covers. */
export const appleTopicsOid = '1.2.840.113635.100.6.3.6';
/** Marks a push certificate valid for the development (sandbox) environment. */
export const appleDevelopmentOid = '1.2.840.113635.100.6.3.1';
/** Marks a push certificate valid for the production environment. */
export const appleProductionOid = '1.2.840.113635.100.6.3.2';

/** What the API shows of a `.p8` signing key: never the key, only how to recognise it. */
export interface TokenKeyInfo {
  type: 'token';
  keyId: string;
  teamId: string;
  /** SHA-256 of the public key (DER SubjectPublicKeyInfo), colon-separated hex. */
  fingerprint: string;
  /** Signing keys do not expire (Apple revokes them instead). */
  notAfter: null;
}

/** What the API shows of a push certificate. */
export interface CertificateInfo {
  type: 'certificate';
  /** SHA-256 of the certificate (DER), colon-separated hex, as `openssl x509 -fingerprint -sha256`. */
  fingerprint: string;
  subject: string;
  issuer: string;
  serialNumber: string;
  /** From Apple's topics extension; for older single-topic certificates, the subject's UID. */
  topics: string[];
  /** From Apple's environment markers; both for a universal certificate. */
  environments: Environment[];
  notBefore: string;
  notAfter: string;
}

export type CredentialInfo = TokenKeyInfo | CertificateInfo;

export type CredentialProblem =
  | 'missing'
  | 'unreadable-key'
  | 'not-p256'
  | 'bad-key-id'
  | 'bad-team-id'
  | 'unreadable-certificate'
  | 'unreadable-p12'
  | 'wrong-passphrase'
  | 'key-mismatch'
  | 'expired'
  | 'not-yet-valid'
  | 'not-apple-push'
  | 'topic-mismatch';

/**
 * The verdict on uploaded credentials. Accepted: the material normalised for storage (a `.p8` as
 * PKCS#8 PEM; a certificate as an unencrypted PEM pair, whatever form it came in, so workers never
 * need the passphrase or PKCS#12's legacy ciphers), its public info and warnings that do not stop
 * it. Refused: the problem, the field of the upload at fault and a message safe to show (it never
 * contains key bytes or the passphrase).
 */
export type CredentialCheck =
  | { ok: true; material: ApnsCredentials; info: CredentialInfo; warnings: string[] }
  | { ok: false; problem: CredentialProblem; field: string; message: string };

export interface CredentialCheckOptions {
  /** Clock for the validity checks (ms). */
  now?: number;
  /** The app's bundle id: a certificate whose topics do not include it is refused. */
  bundleId?: string;
  /** The app's environments: a certificate for only one of them gets a warning. */
  environments?: readonly Environment[];
}

/** Apple's key and team ids: ten upper-case letters and digits. */
const appleIdPattern = /^[A-Z0-9]{10}$/;
const warnWithinDays = 30;
const DAY = 86_400_000;

type Refusal = Extract<CredentialCheck, { ok: false }>;
const refuse = (problem: CredentialProblem, field: string, message: string): Refusal => ({
  ok: false,
  problem,
  field,
  message,
});

/**
 * Checks credentials before they are stored: token keys must be P-256 with Apple-shaped ids;
 * certificates must open (passphrase), match their key, be valid now, and be Apple push
 * certificates. A certificate without any of Apple's push markers (topics, development or
 * production extension) is refused, not warned about: APNs refuses it at the TLS handshake
 * anyway, and an upload is the place to say so. Never throws.
 */
export function checkCredentials(
  material: ApnsCredentials,
  options: CredentialCheckOptions = {},
): CredentialCheck {
  try {
    return material.type === 'token' ? checkTokenKey(material) : checkCertificate(material, options);
  } catch {
    // A parser failing in a way not foreseen above: still a value, and still no material in it.
    const field = material.type === 'token' ? 'keyPem' : material.pfx ? 'pfx' : 'certPem';
    return refuse('unreadable-certificate', field, 'the credentials cannot be read');
  }
}

function checkTokenKey(material: Extract<ApnsCredentials, { type: 'token' }>): CredentialCheck {
  if (!appleIdPattern.test(material.keyId)) {
    return refuse('bad-key-id', 'keyId', 'the key id must be the 10 letters and digits Apple shows');
  }
  if (!appleIdPattern.test(material.teamId)) {
    return refuse('bad-team-id', 'teamId', 'the team id must be the 10 letters and digits Apple shows');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(material.keyPem);
  } catch (err) {
    return refuse(
      'unreadable-key',
      'keyPem',
      `the signing key is not a readable .p8 key (${opensslCode(err)})`,
    );
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    return refuse('not-p256', 'keyPem', 'the signing key is not an EC P-256 key (Apple .p8 keys are)');
  }
  return {
    ok: true,
    material: {
      type: 'token',
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      keyId: material.keyId,
      teamId: material.teamId,
    },
    info: {
      type: 'token',
      keyId: material.keyId,
      teamId: material.teamId,
      fingerprint: fingerprint(createPublicKey(key).export({ type: 'spki', format: 'der' })),
      notAfter: null,
    },
    warnings: [],
  };
}

interface Opened {
  certificates: X509Certificate[];
  key: KeyObject;
  /** The field named when the certificate itself is at fault. */
  certField: string;
}

function checkCertificate(
  material: Extract<ApnsCredentials, { type: 'certificate' }>,
  options: CredentialCheckOptions,
): CredentialCheck {
  const opened = material.pfx ? openPkcs12(material.pfx, material.passphrase) : openPemPair(material);
  if (!('certificates' in opened)) return opened;
  const { certificates, key, certField } = opened;
  const leaf = certificates.find((c) => c.checkPrivateKey(key));
  if (!leaf) {
    return refuse(
      'key-mismatch',
      material.pfx ? 'pfx' : 'keyPem',
      'the private key does not match the certificate',
    );
  }
  const now = options.now ?? Date.now();
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (now < notBefore.getTime()) {
    return refuse(
      'not-yet-valid',
      certField,
      `the certificate is not valid before ${notBefore.toISOString()}`,
    );
  }
  if (now > notAfter.getTime()) {
    return refuse('expired', certField, `the certificate expired on ${notAfter.toISOString()}`);
  }
  const apple = appleFields(leaf);
  if (!apple.marked) {
    return refuse(
      'not-apple-push',
      certField,
      'the certificate is not an Apple push certificate (no topics, development or production extension)',
    );
  }
  if (options.bundleId !== undefined && apple.topics.length > 0 && !apple.topics.includes(options.bundleId)) {
    return refuse(
      'topic-mismatch',
      certField,
      `the certificate does not cover bundle id ${options.bundleId} (its topics: ${apple.topics.join(', ')})`,
    );
  }
  const warnings: string[] = [];
  const daysLeft = Math.floor((notAfter.getTime() - now) / DAY);
  if (daysLeft < warnWithinDays) warnings.push(`the certificate expires in ${daysLeft} days`);
  const missing = (options.environments ?? []).filter((e) => !apple.environments.includes(e));
  if (missing.length > 0) {
    warnings.push(`the certificate is not valid for ${missing.join(', ')}: sends there will be refused`);
  }
  const chain = [leaf, ...certificates.filter((c) => c !== leaf)];
  return {
    ok: true,
    material: {
      type: 'certificate',
      certPem: chain.map((c) => c.toString()).join(''),
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    },
    info: {
      type: 'certificate',
      fingerprint: leaf.fingerprint256,
      subject: oneLine(leaf.subject),
      issuer: oneLine(leaf.issuer),
      serialNumber: leaf.serialNumber,
      topics: apple.topics,
      environments: apple.environments,
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
    },
    warnings,
  };
}

/**
 * When credentials stop working, for the expiry metric: a certificate's notAfter (ms since the
 * epoch; the certificate that matches the key, else the first), also when it is past; null for a
 * `.p8` key (Apple gives signing keys no expiry date, it revokes them); undefined when the
 * material cannot be read. Never throws, and says nothing of the material.
 */
export function credentialNotAfter(material: ApnsCredentials): number | null | undefined {
  if (material.type === 'token') return null;
  try {
    const opened = material.pfx ? openPkcs12(material.pfx, material.passphrase) : openPemPair(material);
    if (!('certificates' in opened)) return undefined;
    const leaf = opened.certificates.find((c) => c.checkPrivateKey(opened.key)) ?? opened.certificates[0];
    return leaf ? new Date(leaf.validTo).getTime() : undefined;
  } catch {
    return undefined;
  }
}

function openPemPair(material: Extract<ApnsCredentials, { type: 'certificate' }>): Opened | Refusal {
  if (!material.certPem) return refuse('missing', 'certPem', 'a certificate (PEM) or a .p12 is required');
  if (!material.keyPem) return refuse('missing', 'keyPem', 'the certificate needs its private key (PEM)');
  const blocks =
    material.certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return refuse('unreadable-certificate', 'certPem', 'no PEM certificate found');
  let certificates: X509Certificate[];
  try {
    certificates = blocks.map((pem) => new X509Certificate(pem));
  } catch (err) {
    return refuse(
      'unreadable-certificate',
      'certPem',
      `the certificate cannot be read (${opensslCode(err)})`,
    );
  }
  const encrypted = /ENCRYPTED/.test(material.keyPem);
  let key: KeyObject;
  try {
    key = createPrivateKey(
      encrypted ? { key: material.keyPem, passphrase: material.passphrase ?? '' } : material.keyPem,
    );
  } catch (err) {
    if (encrypted) {
      return material.passphrase
        ? refuse('wrong-passphrase', 'passphrase', 'wrong passphrase for the private key')
        : refuse('wrong-passphrase', 'passphrase', 'the private key is encrypted: a passphrase is required');
    }
    return refuse('unreadable-key', 'keyPem', `the private key cannot be read (${opensslCode(err)})`);
  }
  return { certificates, key, certField: 'certPem' };
}

/**
 * PKCS#12 through node-forge: node reads it only into a TLS context (no certificate to inspect)
 * and, on OpenSSL 3, not at all when it uses the RC2/3DES ciphers of Keychain exports.
 */
function openPkcs12(pfx: Buffer, passphrase: string | undefined): Opened | Refusal {
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(pfx.toString('binary')));
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, passphrase ?? '');
  } catch (err) {
    const text = String((err as Error)?.message ?? '');
    if (/password|MAC could not be verified/i.test(text)) {
      return passphrase
        ? refuse('wrong-passphrase', 'passphrase', 'wrong passphrase for the .p12')
        : refuse('wrong-passphrase', 'passphrase', 'the .p12 is protected: a passphrase is required');
    }
    return refuse(
      'unreadable-p12',
      'pfx',
      'the .p12 cannot be read (not a PKCS#12 file, or an unsupported cipher)',
    );
  }
  const bagsOf = (type: string) => p12.getBags({ bagType: type })[type] ?? [];
  const keyBags = [...bagsOf(forge.pki.oids.pkcs8ShroudedKeyBag!), ...bagsOf(forge.pki.oids.keyBag!)];
  const certBags = bagsOf(forge.pki.oids.certBag!);
  if (certBags.length === 0) return refuse('missing', 'pfx', 'the .p12 holds no certificate');
  if (keyBags.length === 0) return refuse('missing', 'pfx', 'the .p12 holds no private key');
  try {
    const certificates = certBags.map((bag) => {
      // forge keeps the signed TBS part as read; unknown key types come back as raw ASN.1.
      const asn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : (bag.asn1 as forge.asn1.Asn1);
      return new X509Certificate(derOf(asn1));
    });
    const bag = keyBags[0]!;
    const info = bag.key
      ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key))
      : (bag.asn1 as forge.asn1.Asn1);
    const key = createPrivateKey({ key: derOf(info), format: 'der', type: 'pkcs8' });
    return { certificates, key, certField: 'pfx' };
  } catch {
    return refuse('unreadable-p12', 'pfx', 'the certificate or key inside the .p12 cannot be read');
  }
}

function derOf(asn1: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

/** Topics and environments from Apple's extensions (docs/apns-protocol.md §A.4). */
function appleFields(cert: X509Certificate): {
  marked: boolean;
  topics: string[];
  environments: Environment[];
} {
  const extensions = extensionsOf(cert.raw);
  const development = extensions.has(appleDevelopmentOid);
  const production = extensions.has(appleProductionOid);
  const topicsValue = extensions.get(appleTopicsOid);
  const topics: string[] = [];
  if (topicsValue !== undefined) {
    // A SEQUENCE of UTF8String topic, each followed by a SEQUENCE naming its kind.
    const seq = forge.asn1.fromDer(forge.util.createBuffer(topicsValue), false);
    for (const item of seq.value as forge.asn1.Asn1[]) {
      if (item.type === forge.asn1.Type.UTF8 && typeof item.value === 'string') {
        topics.push(forge.util.decodeUtf8(item.value));
      }
    }
  }
  if (topics.length === 0) {
    // Older single-topic certificates carry the bundle id only in the subject's UID.
    const uid = /^UID=(.+)$/m.exec(cert.subject)?.[1];
    if (uid) topics.push(uid);
  }
  const environments: Environment[] = [];
  if (production || !development) environments.push('production');
  if (development || !production) environments.push('sandbox');
  return { marked: development || production || topicsValue !== undefined, topics, environments };
}

/** Extension OID → value (binary string of the OCTET STRING's contents) of a DER certificate. */
function extensionsOf(der: Buffer): Map<string, string> {
  const { asn1 } = forge;
  const out = new Map<string, string>();
  const cert = asn1.fromDer(forge.util.createBuffer(der.toString('binary')), false);
  const tbs = (cert.value as forge.asn1.Asn1[])[0];
  for (const part of (tbs?.value ?? []) as forge.asn1.Asn1[]) {
    if (part.tagClass !== asn1.Class.CONTEXT_SPECIFIC || part.type !== 3) continue;
    const list = (part.value as forge.asn1.Asn1[])[0];
    for (const ext of (list?.value ?? []) as forge.asn1.Asn1[]) {
      const fields = ext.value as forge.asn1.Asn1[];
      const oid = fields[0];
      const value = fields[fields.length - 1];
      if (oid && value && typeof oid.value === 'string' && typeof value.value === 'string') {
        out.set(asn1.derToOid(oid.value), value.value);
      }
    }
  }
  return out;
}

function fingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)?.join(':') ?? '';
}

/** node prints names one attribute a line; the API shows them on one. */
function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

/** OpenSSL's error code, never its message (which can quote input). */
function opensslCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'unreadable';
}
