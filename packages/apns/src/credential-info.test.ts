import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import forge from 'node-forge';
import {
  appleDevelopmentOid,
  appleProductionOid,
  appleTopicsOid,
  type CredentialCheck,
  checkCredentials,
} from './credential-info.ts';
import { loadCredentials } from './credentials.ts';

// Every key and certificate here is made at run time; none is committed.
const DAY = 86_400_000;
const now = Date.now();

function rsaKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { key, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

interface CertOptions {
  topics?: string[];
  environment?: 'sandbox' | 'production' | 'both' | 'none';
  notBefore?: number;
  notAfter?: number;
  uid?: string;
}

/** A push certificate shaped like Apple's (topics extension, environment markers, UID). */
function pushCertificate(options: CertOptions = {}) {
  const { key, pem } = rsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(options.notBefore ?? now - DAY);
  cert.validity.notAfter = new Date(options.notAfter ?? now + 365 * DAY);
  const attrs = [
    ...(options.uid ? [{ type: '0.9.2342.19200300.100.1.1', value: options.uid }] : []),
    { name: 'commonName', value: 'Apple Push Services: com.example.shop' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer([{ name: 'commonName', value: 'Test WWDR' }]);
  const { asn1 } = forge;
  const marker = (id: string) => ({
    id,
    value: asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')).getBytes(),
  });
  const extensions: object[] = [{ name: 'basicConstraints', cA: false }];
  const environment = options.environment ?? 'both';
  if (environment === 'sandbox' || environment === 'both') extensions.push(marker(appleDevelopmentOid));
  if (environment === 'production' || environment === 'both') extensions.push(marker(appleProductionOid));
  if (options.topics) {
    const items = options.topics.flatMap((topic) => [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(topic)),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, 'app'),
      ]),
    ]);
    extensions.push({
      id: appleTopicsOid,
      value: asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items)).getBytes(),
    });
  }
  cert.setExtensions(extensions);
  cert.sign(key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: pem, key, cert };
}

function p12Of(c: ReturnType<typeof pushCertificate>, passphrase: string): Buffer {
  const asn1 = forge.pkcs12.toPkcs12Asn1(c.key, [c.cert], passphrase, { algorithm: '3des' });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

const ecKey = (namedCurve = 'prime256v1') =>
  generateKeyPairSync('ec', { namedCurve }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** The refusal, or a failure naming what was accepted. */
function refused(check: CredentialCheck) {
  assert.equal(check.ok, false, 'expected a refusal');
  return check as Extract<CredentialCheck, { ok: false }>;
}
function accepted(check: CredentialCheck) {
  if (!check.ok) assert.fail(`refused: ${check.problem} ${check.field} ${check.message}`);
  return check;
}

/** No line of base64 key material and no passphrase in a message. */
function assertNoSecrets(message: string, ...secrets: string[]) {
  for (const secret of secrets) {
    for (const line of secret.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) {
      assert.ok(!message.includes(line), 'the message quotes key material');
    }
    if (secret.length > 0 && secret.length < 100)
      assert.ok(!message.includes(secret), 'the message quotes the passphrase');
  }
}

test('a .p8 key: P-256 accepted with its fingerprint; other keys and bad ids refused', () => {
  const keyPem = ecKey();
  const ok = accepted(checkCredentials({ type: 'token', keyPem, keyId: 'ABC123DEFG', teamId: 'TEAM123456' }));
  assert.equal(ok.info.type, 'token');
  assert.deepEqual(
    { ...ok.info, fingerprint: undefined },
    { type: 'token', keyId: 'ABC123DEFG', teamId: 'TEAM123456', fingerprint: undefined, notAfter: null },
  );
  assert.match(ok.info.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(ok.material.type === 'token' && ok.material.keyPem.includes('BEGIN PRIVATE KEY'), true);
  // The same key in SEC1 form has the same fingerprint and is stored as PKCS#8.
  const sec1 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const a = accepted(
    checkCredentials({
      type: 'token',
      keyPem: sec1.export({ type: 'sec1', format: 'pem' }).toString(),
      keyId: 'ABC123DEFG',
      teamId: 'TEAM123456',
    }),
  );
  const b = accepted(
    checkCredentials({
      type: 'token',
      keyPem: sec1.export({ type: 'pkcs8', format: 'pem' }).toString(),
      keyId: 'ABC123DEFG',
      teamId: 'TEAM123456',
    }),
  );
  assert.equal(a.info.fingerprint, b.info.fingerprint);
  assert.notEqual(a.info.fingerprint, ok.info.fingerprint);

  const ids = { keyId: 'ABC123DEFG', teamId: 'TEAM123456' };
  for (const [keyPem, problem] of [
    [ecKey('secp384r1'), 'not-p256'],
    [rsaKey().pem, 'not-p256'],
    ['-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n', 'unreadable-key'],
    [pushCertificate().certPem, 'unreadable-key'],
  ] as const) {
    const r = refused(checkCredentials({ type: 'token', keyPem, ...ids }));
    assert.equal(r.problem, problem);
    assert.equal(r.field, 'keyPem');
    assertNoSecrets(r.message, keyPem);
  }
  assert.equal(
    refused(checkCredentials({ type: 'token', keyPem, keyId: 'short', teamId: 'TEAM123456' })).field,
    'keyId',
  );
  assert.equal(
    refused(checkCredentials({ type: 'token', keyPem, keyId: 'ABC123DEFG', teamId: 'team123456' })).problem,
    'bad-team-id',
  );
});

test('a PEM certificate: info from Apple extensions, normalised material that TLS loads', () => {
  const c = pushCertificate({
    topics: ['com.example.shop', 'com.example.shop.voip'],
    uid: 'com.example.shop',
  });
  const ok = accepted(
    checkCredentials(
      { type: 'certificate', certPem: c.certPem, keyPem: c.keyPem },
      { bundleId: 'com.example.shop', environments: ['production', 'sandbox'], now },
    ),
  );
  const info = ok.info;
  assert.equal(info.type, 'certificate');
  if (info.type !== 'certificate') return;
  assert.deepEqual(info.topics, ['com.example.shop', 'com.example.shop.voip']);
  assert.deepEqual([...info.environments].sort(), ['production', 'sandbox']);
  assert.equal(info.fingerprint, new X509Certificate(c.certPem).fingerprint256);
  assert.match(info.subject, /UID=com\.example\.shop, CN=Apple Push Services: com\.example\.shop/);
  assert.equal(info.issuer, 'CN=Test WWDR');
  assert.equal(Date.parse(info.notAfter), Math.floor((now + 365 * DAY) / 1000) * 1000);
  assert.deepEqual(ok.warnings, []);
  assert.equal(loadCredentials({ credentials: ok.material }).ok, true);

  // Older certificates: no topics extension, the bundle id in the UID.
  const old = accepted(
    checkCredentials(
      { type: 'certificate', ...pick(pushCertificate({ environment: 'sandbox', uid: 'com.old.app' })) },
      { bundleId: 'com.old.app', environments: ['production'] },
    ),
  );
  assert.equal(old.info.type === 'certificate' && old.info.topics.join(), 'com.old.app');
  assert.equal(old.info.type === 'certificate' && old.info.environments.join(), 'sandbox');
  assert.deepEqual(old.warnings, [
    'the certificate is not valid for production: sends there will be refused',
  ]);
});

const pick = (c: { certPem: string; keyPem: string }) => ({ certPem: c.certPem, keyPem: c.keyPem });

test('certificates refused with the precise problem: validity, key match, Apple markers, topics', () => {
  const cases: [string, Parameters<typeof checkCredentials>[0], string, string][] = [
    [
      'expired',
      { type: 'certificate', ...pick(pushCertificate({ notAfter: now - DAY })) },
      'expired',
      'certPem',
    ],
    [
      'not yet valid',
      { type: 'certificate', ...pick(pushCertificate({ notBefore: now + DAY })) },
      'not-yet-valid',
      'certPem',
    ],
    [
      'another key',
      { type: 'certificate', certPem: pushCertificate().certPem, keyPem: rsaKey().pem },
      'key-mismatch',
      'keyPem',
    ],
    [
      'no Apple markers',
      { type: 'certificate', ...pick(pushCertificate({ environment: 'none' })) },
      'not-apple-push',
      'certPem',
    ],
    [
      'another bundle id',
      { type: 'certificate', ...pick(pushCertificate({ topics: ['com.other.app'] })) },
      'topic-mismatch',
      'certPem',
    ],
    ['no certificate', { type: 'certificate', keyPem: rsaKey().pem }, 'missing', 'certPem'],
    ['no key', { type: 'certificate', certPem: pushCertificate().certPem }, 'missing', 'keyPem'],
    [
      'garbage',
      {
        type: 'certificate',
        certPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
        keyPem: rsaKey().pem,
      },
      'unreadable-certificate',
      'certPem',
    ],
  ];
  for (const [name, material, problem, field] of cases) {
    const r = refused(checkCredentials(material, { bundleId: 'com.example.shop', now }));
    assert.equal(r.problem, problem, name);
    assert.equal(r.field, field, name);
    assertNoSecrets(r.message, material.type === 'certificate' ? (material.keyPem ?? '') : '');
  }
  // Expiring soon is a warning, not a refusal.
  const soon = accepted(
    checkCredentials({
      type: 'certificate',
      ...pick(pushCertificate({ notAfter: now + 10 * DAY + 3600_000 })),
    }),
  );
  assert.deepEqual(soon.warnings, ['the certificate expires in 10 days']);
});

test('an encrypted PEM key: the passphrase opens it; a wrong or missing one is named', () => {
  const c = pushCertificate({ topics: ['com.example.shop'] });
  const passphrase = 'correct horse battery';
  const encrypted = forge.pki.encryptRsaPrivateKey(c.key, passphrase, { algorithm: 'aes256' });
  const ok = accepted(
    checkCredentials({ type: 'certificate', certPem: c.certPem, keyPem: encrypted, passphrase }),
  );
  assert.ok(ok.material.type === 'certificate' && ok.material.passphrase === undefined, 'stored unencrypted');
  assert.equal(loadCredentials({ credentials: ok.material }).ok, true);
  const wrong = refused(
    checkCredentials({ type: 'certificate', certPem: c.certPem, keyPem: encrypted, passphrase: 'nope-nope' }),
  );
  assert.deepEqual([wrong.problem, wrong.field], ['wrong-passphrase', 'passphrase']);
  assertNoSecrets(wrong.message, encrypted, 'nope-nope');
  const none = refused(checkCredentials({ type: 'certificate', certPem: c.certPem, keyPem: encrypted }));
  assert.match(none.message, /passphrase is required/);
});

test('a .p12: opened with its passphrase, stored as a PEM pair; wrong passphrase and garbage refused', () => {
  const c = pushCertificate({ topics: ['com.example.shop'] });
  const pfx = p12Of(c, 'pass-phrase-1');
  const ok = accepted(checkCredentials({ type: 'certificate', pfx, passphrase: 'pass-phrase-1' }));
  assert.equal(ok.info.fingerprint, new X509Certificate(c.certPem).fingerprint256);
  assert.ok(
    ok.material.type === 'certificate' && !ok.material.pfx && ok.material.certPem && ok.material.keyPem,
  );
  assert.equal(loadCredentials({ credentials: ok.material }).ok, true);

  const wrong = refused(checkCredentials({ type: 'certificate', pfx, passphrase: 'pass-phrase-2' }));
  assert.deepEqual(
    [wrong.problem, wrong.field, wrong.message],
    ['wrong-passphrase', 'passphrase', 'wrong passphrase for the .p12'],
  );
  assert.equal(refused(checkCredentials({ type: 'certificate', pfx })).problem, 'wrong-passphrase');
  const garbage = refused(checkCredentials({ type: 'certificate', pfx: randomBytes(300), passphrase: 'x' }));
  assert.deepEqual([garbage.problem, garbage.field], ['unreadable-p12', 'pfx']);
  const expired = p12Of(pushCertificate({ notAfter: now - DAY }), 'pw');
  assert.deepEqual(
    (({ problem, field }) => [problem, field])(
      refused(checkCredentials({ type: 'certificate', pfx: expired, passphrase: 'pw' })),
    ),
    ['expired', 'pfx'],
  );
});

let opensslDir: string | undefined;
after(() => opensslDir && rmSync(opensslDir, { recursive: true, force: true }));
const openssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('OpenSSL-made .p12 files: a Keychain-style legacy (RC2) one node cannot load, an EC one', {
  skip: !openssl && 'no openssl binary',
}, () => {
  opensslDir = mkdtempSync(join(tmpdir(), 'pf-p12-'));
  const at = (f: string) => join(opensslDir!, f);
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const c = pushCertificate({ topics: ['com.example.shop'] });
  writeFileSync(at('c.pem'), c.certPem);
  writeFileSync(at('k.pem'), c.keyPem);
  run(
    'pkcs12',
    '-export',
    '-legacy',
    '-in',
    at('c.pem'),
    '-inkey',
    at('k.pem'),
    '-out',
    at('l.p12'),
    '-passout',
    'pass:pw',
  );
  const legacy = readFileSync(at('l.p12'));
  assert.equal(
    loadCredentials({ credentials: { type: 'certificate', pfx: legacy, passphrase: 'pw' } }).ok,
    false,
  );
  const ok = accepted(checkCredentials({ type: 'certificate', pfx: legacy, passphrase: 'pw' }));
  assert.equal(loadCredentials({ credentials: ok.material }).ok, true, 'normalised: TLS loads it');

  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', at('e.key'));
  run(
    'req',
    '-x509',
    '-key',
    at('e.key'),
    '-out',
    at('e.pem'),
    '-days',
    '30',
    '-subj',
    '/UID=com.ec.app/CN=ec',
    '-addext',
    `${appleProductionOid}=DER:0500`,
  );
  run(
    'pkcs12',
    '-export',
    '-in',
    at('e.pem'),
    '-inkey',
    at('e.key'),
    '-out',
    at('e.p12'),
    '-passout',
    'pass:pw',
  );
  const ec = accepted(
    checkCredentials({ type: 'certificate', pfx: readFileSync(at('e.p12')), passphrase: 'pw' }),
  );
  assert.equal(ec.info.type === 'certificate' && ec.info.environments.join(), 'production');
  assert.equal(ec.info.type === 'certificate' && ec.info.topics.join(), 'com.ec.app');
});
