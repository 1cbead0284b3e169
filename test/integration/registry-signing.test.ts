// Signing and verification against the stand-ins: the KmsSigner through the SDK to the local KMS
// endpoint and the LocalKeySigner both verify through the one PackageVerifier; a package changed
// in S3 after signing (one ONNX byte, one manifest field, the claimed key, a package copied under
// another version) or signed by a key the configuration does not trust is never returned.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { CopyObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../lib/adapters/registry/model-registry';
import { KmsSigner } from '../../lib/adapters/registry/signers/kms-signer';
import { LocalKeySigner } from '../../lib/adapters/registry/signers/local-key-signer';
import { PackageVerifier } from '../../lib/adapters/registry/verifier';
import { ConfigError, SignatureError } from '../../lib/core/errors';
import type { Manifest, ModelName, ModelVersion } from '../../lib/core/models/manifest';
import type { ManifestSigner } from '../../lib/core/registry/signing';
import { platformResources } from '../../lib/core/resources';
import { localClients, type LocalClients } from '../../lib/local/aws-clients';
import { provisionRegistry, type ProvisionedRegistry } from '../../lib/local/provision';
import { startStandIns, type StandIns } from '../../lib/local/stand-ins';
import { testPackage } from '../unit/registry/fixtures';

const v = (s: string) => s as ModelVersion;

let dir: string;
let standIns: StandIns;
let clients: LocalClients;
let provisioned: ProvisionedRegistry;
let kmsKeyArn: string;
let modelCount = 0;
const newModel = () => `signed-${++modelCount}` as ModelName;

function registryWith(signer: ManifestSigner | undefined, verifier: PackageVerifier): ModelRegistry {
  return new ModelRegistry({
    dynamodb: clients.dynamodb,
    s3: clients.s3,
    tableName: provisioned.tableName,
    bucket: provisioned.bucket,
    verifier,
    ...(signer ? { signer } : {}),
  });
}

/** The SignatureError a promise rejects with; fails the test when it resolves or rejects otherwise. */
async function signatureError(promise: Promise<unknown>): Promise<SignatureError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SignatureError);
  return error as SignatureError;
}

async function readObject(key: string): Promise<Uint8Array> {
  const out = await clients.s3.send(new GetObjectCommand({ Bucket: provisioned.bucket, Key: key }));
  return out.Body!.transformToByteArray();
}

const writeObject = (key: string, body: Uint8Array | string) => clients.s3.send(new PutObjectCommand({ Bucket: provisioned.bucket, Key: key, Body: body }));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fathom-signing-'));
  standIns = await startStandIns({ dataDir: dir, persist: false });
  clients = localClients(standIns.endpoints);
  provisioned = await provisionRegistry(clients, platformResources('signing'), dir);
  const { KeyMetadata } = await clients.kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: 'model signing' }));
  kmsKeyArn = KeyMetadata!.Arn!;
});

afterAll(async () => {
  clients?.destroy();
  await standIns?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('one verify path for both signers', () => {
  it('a KMS-signed and a locally signed package verify through the same verifier', async () => {
    const verifier = PackageVerifier.fromSetting(`kms:${kmsKeyArn},${provisioned.signingKey}`, { kms: clients.kms });
    const kmsSigner = new KmsSigner(clients.kms, kmsKeyArn);
    const [byKms, byLocal] = [registryWith(kmsSigner, verifier), registryWith(provisioned.signer, verifier)];
    const name = newModel();
    await byKms.register(testPackage(name, '1'), 'pipeline', 'trained on AWS');
    await byLocal.register(testPackage(name, '2'), 'ana', 'trained locally');

    const reader = registryWith(undefined, verifier);
    const one = await reader.loadVerifiedPackage(name, v('1'));
    const two = await reader.loadVerifiedPackage(name, v('2'));
    expect(one.manifest.signature?.key_id).toBe(`kms:${kmsKeyArn}`);
    expect(two.manifest.signature?.key_id).toBe(await provisioned.signer.keyId());
    expect((await verifier.trustedKeys()).map((k) => k.id)).toEqual([`kms:${kmsKeyArn}`, await provisioned.signer.keyId()]);

    // A verifier trusting only the local key refuses the KMS-signed package, and the reverse.
    const localOnly = registryWith(undefined, PackageVerifier.fromSetting(provisioned.signingKey));
    expect((await signatureError(localOnly.loadVerifiedPackage(name, v('1')))).check).toBe('key');
    const kmsOnly = registryWith(undefined, PackageVerifier.fromSetting(`kms:${kmsKeyArn}`, { kms: clients.kms }));
    expect((await signatureError(kmsOnly.loadVerifiedPackage(name, v('2')))).check).toBe('key');
    expect((await kmsOnly.loadVerifiedPackage(name, v('1'))).manifest.version).toBe('1');
  });

  it('the KmsSigner signs a DIGEST and names the key by ARN whatever it was given', async () => {
    const keyId = kmsKeyArn.split('/').at(-1)!;
    const signer = new KmsSigner(clients.kms, keyId);
    expect(await signer.keyId()).toBe(`kms:${kmsKeyArn}`);
    const verifier = PackageVerifier.fromSetting(`kms:${keyId}`, { kms: clients.kms });
    const name = newModel();
    await registryWith(signer, verifier).register(testPackage(name, '1'), 'pipeline', 'x');
    expect((await registryWith(undefined, verifier).loadVerifiedPackage(name, v('1'))).manifest.name).toBe(name);
  });

  it('a kms: key needs a KMS client, and the key must be a P-256 signing key', async () => {
    await expect(PackageVerifier.fromSetting(`kms:${kmsKeyArn}`).trustedKeys()).rejects.toBeInstanceOf(ConfigError);
    await expect(PackageVerifier.fromSetting('kms:alias/none', { kms: clients.kms }).trustedKeys()).rejects.toMatchObject({ name: 'NotFoundException' });
    await expect(PackageVerifier.fromSetting(`local:${join(dir, 'nowhere.pem')}`).trustedKeys()).rejects.toThrow(/cannot be read/);
  });

  it('the local key pair is created once, private half 0600, and reopened as the same key', async () => {
    const keys = join(dir, 'fresh-keys');
    const first = LocalKeySigner.open(keys);
    const again = LocalKeySigner.open(keys);
    expect(await again.keyId()).toBe(await first.keyId());
    expect(statSync(first.paths.privateKeyPath).mode & 0o777).toBe(0o600);
    expect(first.paths.publicKeyPath).toBe(join(keys, 'model-signing.pub.pem'));
  });
});

describe('a package changed after signing is refused', () => {
  let name: ModelName;
  let registry: ModelRegistry;
  const keys = (version: string) => ({ model: `models/${name}/${version}/model.onnx`, manifest: `models/${name}/${version}/manifest.json` });

  beforeAll(async () => {
    registry = registryWith(provisioned.signer, PackageVerifier.fromSetting(provisioned.signingKey));
    name = newModel();
    for (const version of ['1', '2', '3', '4', '5', '6']) await registry.register(testPackage(name, version), 'ana', 'x');
  });

  it('one flipped byte of model.onnx', async () => {
    const onnx = await readObject(keys('1').model);
    onnx[3] = (onnx[3] ?? 0) ^ 0x01;
    await writeObject(keys('1').model, onnx);
    const error = await signatureError(registry.loadVerifiedPackage(name, v('1')));
    expect(error).toMatchObject({ check: 'onnx_sha256', resource: `${name}@1` });
  });

  it('one changed manifest field (the threshold), validly formed', async () => {
    const manifest = JSON.parse(new TextDecoder().decode(await readObject(keys('2').manifest))) as Manifest;
    await writeObject(keys('2').manifest, JSON.stringify({ ...manifest, threshold: 0.9 }));
    expect((await signatureError(registry.loadVerifiedPackage(name, v('2')))).check).toBe('signature');
  });

  it('a manifest and model swapped consistently (new digest in the manifest)', async () => {
    const manifest = JSON.parse(new TextDecoder().decode(await readObject(keys('3').manifest))) as Manifest;
    const other = testPackage(name, '3', {}, new TextEncoder().encode('an attacker model'));
    await writeObject(keys('3').model, other.onnx);
    await writeObject(keys('3').manifest, JSON.stringify({ ...manifest, onnx_sha256: other.manifest.onnx_sha256 }));
    expect((await signatureError(registry.loadVerifiedPackage(name, v('3')))).check).toBe('signature');
  });

  it('a signature whose claimed key was edited, and one that was removed', async () => {
    const manifest = JSON.parse(new TextDecoder().decode(await readObject(keys('4').manifest))) as Manifest;
    await writeObject(keys('4').manifest, JSON.stringify({ ...manifest, signature: { ...manifest.signature, key_id: 'local:attacker' } }));
    expect((await signatureError(registry.loadVerifiedPackage(name, v('4')))).check).toBe('key');
    const { signature: _removed, ...unsigned } = manifest;
    await writeObject(keys('4').manifest, JSON.stringify(unsigned));
    expect((await signatureError(registry.loadVerifiedPackage(name, v('4')))).check).toBe('signature');
  });

  it("another version's validly signed package copied under this version's keys", async () => {
    for (const file of ['model.onnx', 'manifest.json']) {
      await clients.s3.send(
        new CopyObjectCommand({ Bucket: provisioned.bucket, CopySource: `${provisioned.bucket}/models/${name}/6/${file}`, Key: `models/${name}/5/${file}` }),
      );
    }
    expect((await signatureError(registry.loadVerifiedPackage(name, v('5')))).check).toBe('manifest.version');
    // The untouched original still loads.
    expect((await registry.loadVerifiedPackage(name, v('6'))).manifest.version).toBe('6');
  });

  it('a manifest that no longer parses', async () => {
    await writeObject(keys('6').manifest, '{"format": "fathom.model/v1"');
    expect((await signatureError(registry.loadVerifiedPackage(name, v('6')))).check).toBe('manifest');
  });
});

describe('a package signed by a key the configuration does not trust', () => {
  it('is refused at load, and a registry whose signer its verifier does not trust refuses to register', async () => {
    const untrusted = LocalKeySigner.open(join(dir, 'untrusted-keys'));
    const trustedVerifier = PackageVerifier.fromSetting(provisioned.signingKey);
    const name = newModel();

    // Written with the untrusted key by someone whose verifier trusts it…
    const rogue = registryWith(untrusted, PackageVerifier.fromSetting(`local:${untrusted.paths.publicKeyPath}`));
    await rogue.register(testPackage(name, '1'), 'mallory', 'x');
    // …it is refused wherever only the configured key is trusted, even though it names its key.
    const error = await signatureError(registryWith(undefined, trustedVerifier).loadVerifiedPackage(name, v('1')));
    expect(error.check).toBe('key');
    expect(error.message).toContain(await untrusted.keyId());

    // Claiming the trusted key's id does not help: the trusted key checks the signature.
    const manifestKey = `models/${name}/1/manifest.json`;
    const manifest = JSON.parse(new TextDecoder().decode(await readObject(manifestKey))) as Manifest;
    await writeObject(manifestKey, JSON.stringify({ ...manifest, signature: { ...manifest.signature, key_id: await provisioned.signer.keyId() } }));
    expect((await signatureError(registryWith(undefined, trustedVerifier).loadVerifiedPackage(name, v('1')))).check).toBe('signature');

    // A misconfigured registry finds out at registration, before anything is stored.
    const misconfigured = registryWith(untrusted, trustedVerifier);
    expect((await signatureError(misconfigured.register(testPackage(name, '2'), 'ana', 'x'))).check).toBe('key');
    await expect(clients.s3.send(new GetObjectCommand({ Bucket: provisioned.bucket, Key: `models/${name}/2/manifest.json` }))).rejects.toMatchObject({
      name: 'NoSuchKey',
    });
  });
});
