// The local KMS endpoint against the real @aws-sdk/client-kms: the SDK's own JSON 1.1 serializers
// (base64 blobs, epoch-second dates) and typed exceptions are what prove the wire protocol right;
// node:crypto checks the signatures independently.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  GetPublicKeyCommand,
  InvalidKeyUsageException,
  KMSClient,
  KMSInvalidSignatureException,
  NotFoundException,
  SignCommand,
  UnsupportedOperationException,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localAwsEnvironment } from '../../lib/local/aws-clients';
import { startKmsEndpoint, type KmsEndpoint } from '../../lib/local/kms-endpoint';
import { ENDPOINTS_FILE, runningStandIns, startStandIns } from '../../lib/local/stand-ins';

const clientFor = (url: string) => new KMSClient({ endpoint: url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
const message = new TextEncoder().encode('{"name":"fraud","version":"3"}');
const digest = createHash('sha256').update(message).digest();

async function newSigningKey(kms: KMSClient, description = 'test key') {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: description }));
  return KeyMetadata!;
}

describe('local KMS endpoint (AWS JSON 1.1)', () => {
  let endpoint: KmsEndpoint;
  let kms: KMSClient;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fathom-kms-'));
    endpoint = await startKmsEndpoint({ keyDir: join(dir, 'keys') });
    kms = clientFor(endpoint.url);
  });
  afterAll(async () => {
    kms.destroy();
    await endpoint.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a P-256 signing key and describes it by id and by ARN', async () => {
    const key = await newSigningKey(kms, 'model signing');
    expect(key).toMatchObject({
      AWSAccountId: '000000000000',
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      KeyState: 'Enabled',
      Enabled: true,
      Description: 'model signing',
      SigningAlgorithms: ['ECDSA_SHA_256'],
    });
    expect(key.Arn).toBe(`arn:aws:kms:us-east-1:000000000000:key/${key.KeyId}`);
    expect(key.CreationDate).toBeInstanceOf(Date);
    expect(Math.abs(key.CreationDate!.getTime() - Date.now())).toBeLessThan(60_000);
    for (const id of [key.KeyId!, key.Arn!]) {
      const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: id }));
      expect(KeyMetadata?.Arn).toBe(key.Arn);
    }
  });

  it('hands out the public key as SubjectPublicKeyInfo DER', async () => {
    const key = await newSigningKey(kms);
    const out = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId }));
    expect(out).toMatchObject({ KeyId: key.Arn, KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ECDSA_SHA_256'] });
    const publicKey = createPublicKey({ key: Buffer.from(out.PublicKey!), format: 'der', type: 'spki' });
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('signs a RAW message and a DIGEST alike: both verify with node:crypto over the message', async () => {
    const key = await newSigningKey(kms);
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: key.Arn }));
    const publicKey = { key: Buffer.from(PublicKey!), format: 'der' as const, type: 'spki' as const, dsaEncoding: 'der' as const };
    for (const [MessageType, Message] of [['RAW', message], ['DIGEST', digest]] as const) {
      const out = await kms.send(new SignCommand({ KeyId: key.KeyId, Message, MessageType, SigningAlgorithm: 'ECDSA_SHA_256' }));
      expect(out.KeyId).toBe(key.Arn);
      expect(out.SigningAlgorithm).toBe('ECDSA_SHA_256');
      expect(verify('sha256', message, publicKey, out.Signature!), MessageType).toBe(true);
      expect(verify('sha256', new TextEncoder().encode('something else'), publicKey, out.Signature!)).toBe(false);
    }
  });

  it('verifies its own signatures and raises KMSInvalidSignatureException for a wrong one', async () => {
    const key = await newSigningKey(kms);
    const { Signature } = await kms.send(new SignCommand({ KeyId: key.KeyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
    for (const [MessageType, Message] of [['RAW', message], ['DIGEST', digest]] as const) {
      const ok = await kms.send(new VerifyCommand({ KeyId: key.KeyId, Message, MessageType, Signature, SigningAlgorithm: 'ECDSA_SHA_256' }));
      expect(ok).toMatchObject({ KeyId: key.Arn, SignatureValid: true });
    }
    const tampered = Uint8Array.from(digest);
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    await expect(
      kms.send(new VerifyCommand({ KeyId: key.KeyId, Message: tampered, MessageType: 'DIGEST', Signature, SigningAlgorithm: 'ECDSA_SHA_256' })),
    ).rejects.toBeInstanceOf(KMSInvalidSignatureException);
    const other = await newSigningKey(kms);
    await expect(
      kms.send(new VerifyCommand({ KeyId: other.KeyId, Message: digest, MessageType: 'DIGEST', Signature, SigningAlgorithm: 'ECDSA_SHA_256' })),
    ).rejects.toBeInstanceOf(KMSInvalidSignatureException);
  });

  it('answers mistakes with the typed exceptions KMS uses', async () => {
    const key = await newSigningKey(kms);
    await expect(kms.send(new DescribeKeyCommand({ KeyId: '11111111-2222-3333-4444-555555555555' }))).rejects.toBeInstanceOf(NotFoundException);
    await expect(kms.send(new GetPublicKeyCommand({ KeyId: 'alias/nothing' }))).rejects.toBeInstanceOf(NotFoundException);
    await expect(kms.send(new CreateKeyCommand({}))).rejects.toBeInstanceOf(UnsupportedOperationException);
    // KMS models no ValidationException class; the SDK raises a service exception by that name.
    await expect(kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256' }))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(
      kms.send(new SignCommand({ KeyId: key.KeyId, Message: digest.subarray(0, 20), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })),
    ).rejects.toThrow(/Digest is invalid length/);
    await expect(kms.send(new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_384' }))).rejects.toBeInstanceOf(
      InvalidKeyUsageException,
    );
  });

  it('keeps keys under its key dir (0600) across a restart', async () => {
    const key = await newSigningKey(kms);
    const file = join(dir, 'keys', `${key.KeyId}.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId }));
    const restarted = await startKmsEndpoint({ keyDir: join(dir, 'keys') });
    const again = clientFor(restarted.url);
    try {
      const out = await again.send(new GetPublicKeyCommand({ KeyId: key.Arn }));
      expect(Buffer.from(out.PublicKey!).equals(Buffer.from(PublicKey!))).toBe(true);
      const { Signature } = await again.send(new SignCommand({ KeyId: key.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }));
      expect(verify('sha256', message, { key: Buffer.from(PublicKey!), format: 'der', type: 'spki', dsaEncoding: 'der' }, Signature!)).toBe(true);
    } finally {
      again.destroy();
      await restarted.close();
    }
  });
});

describe('the KMS stand-in among the others', () => {
  it('starts with the stand-ins, is announced in endpoints.json while they run, and reached through AWS_ENDPOINT_URL_KMS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fathom-standins-'));
    const standIns = await startStandIns({ dataDir: dir, persist: false });
    const saved = process.env.AWS_ENDPOINT_URL_KMS;
    try {
      expect(standIns.endpoints.kms).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(JSON.parse(readFileSync(join(dir, ENDPOINTS_FILE), 'utf8'))).toEqual({ pid: process.pid, endpoints: standIns.endpoints });
      expect(runningStandIns(dir)).toEqual(standIns.endpoints);

      const environment = localAwsEnvironment(standIns.endpoints);
      expect(environment.AWS_ENDPOINT_URL_KMS).toBe(standIns.endpoints.kms);
      // As a handler would build it: no endpoint in code, only the service-specific variable.
      process.env.AWS_ENDPOINT_URL_KMS = environment.AWS_ENDPOINT_URL_KMS;
      const kms = new KMSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
      try {
        expect((await newSigningKey(kms)).KeySpec).toBe('ECC_NIST_P256');
      } finally {
        kms.destroy();
      }
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_KMS;
      else process.env.AWS_ENDPOINT_URL_KMS = saved;
      await standIns.stop();
    }
    expect(existsSync(join(dir, ENDPOINTS_FILE))).toBe(false);
    expect(runningStandIns(dir)).toBeUndefined();
    rmSync(dir, { recursive: true, force: true });
  });
});
