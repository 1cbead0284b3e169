// A local AWS KMS endpoint speaking the AWS JSON 1.1 protocol that @aws-sdk/client-kms uses
// (POST /, X-Amz-Target: TrentService.<Operation>, blobs as base64, timestamps as epoch seconds,
// errors as {__type, message} so the SDK raises its typed exceptions such as NotFoundException).
//
// Hand-written like the SQS endpoint: npm has no pure-JavaScript KMS stand-in. It covers what the
// model registry's KmsSigner needs, for asymmetric signing keys only: CreateKey (ECC_NIST_P256,
// SIGN_VERIFY), DescribeKey, GetPublicKey, Sign and Verify (ECDSA_SHA_256, RAW or DIGEST). Keys are
// P-256 key pairs kept as files under `keyDir` (0600), or in memory when it is absent.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, verify, type KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readJsonBody, replyJson, type BodyErrors, type Json } from './aws-json-protocol';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws-clients';
import { signDigest, verifyDigest } from './kms-ecdsa';

export interface KmsEndpointOptions {
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Where keys are kept, one JSON file each; in memory only when absent. */
  readonly keyDir?: string;
}

export interface KmsEndpoint {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** An error in the KMS wire shape: `type` is the modelled exception name the SDK maps to a class. */
export class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'KmsError';
  }
}

const BODY_ERRORS: BodyErrors = { tooLarge: () => new KmsError('ValidationException', 'The request is too large.', 413), malformed: (m) => new KmsError('SerializationException', m) };
type Operation = (input: Json) => Json;

const KEY_SPEC = 'ECC_NIST_P256';
const KEY_USAGE = 'SIGN_VERIFY';
const SIGNING_ALGORITHM = 'ECDSA_SHA_256';
const MAX_RAW_MESSAGE_BYTES = 4096;
const MAX_REQUEST_BYTES = 1024 * 1024;
const KEY_FILE = /^[0-9a-f-]{36}\.json$/;

interface StoredKey {
  readonly keyId: string;
  readonly arn: string;
  /** Epoch seconds, as KMS's JSON protocol writes timestamps. */
  readonly creationDate: number;
  readonly description: string;
  readonly privateKeyPem: string;
}

interface LiveKey extends StoredKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

const validation = (message: string) => new KmsError('ValidationException', message);

function requiredString(input: Json, name: string): string {
  const value = input[name];
  if (value === undefined || value === null || value === '') throw validation(`1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
  if (typeof value !== 'string') throw new KmsError('SerializationException', `${name} must be a string`);
  return value;
}

function blob(input: Json, name: string): Buffer {
  const text = requiredString(input, name);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new KmsError('SerializationException', `${name} is not valid base64`);
  return Buffer.from(text, 'base64');
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

function live(stored: StoredKey): LiveKey {
  const privateKey = createPrivateKey(stored.privateKeyPem);
  return { ...stored, privateKey, publicKey: createPublicKey(privateKey) };
}

function metadata(key: LiveKey): Json {
  return {
    AWSAccountId: LOCAL_ACCOUNT_ID,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: key.creationDate,
    Enabled: true,
    Description: key.description,
    KeyUsage: KEY_USAGE,
    KeyState: 'Enabled',
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: KEY_SPEC,
    KeySpec: KEY_SPEC,
    SigningAlgorithms: [SIGNING_ALGORITHM],
    MultiRegion: false,
  };
}

export async function startKmsEndpoint(options: KmsEndpointOptions = {}): Promise<KmsEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const keys = new Map<string, LiveKey>();
  const keyDir = options.keyDir;
  if (keyDir) {
    mkdirSync(keyDir, { recursive: true, mode: 0o700 });
    for (const file of readdirSync(keyDir).filter((f) => KEY_FILE.test(f))) {
      const stored = JSON.parse(readFileSync(join(keyDir, file), 'utf8')) as StoredKey;
      keys.set(stored.keyId, live(stored));
    }
  }

  const arnOf = (keyId: string) => `arn:aws:kms:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:key/${keyId}`;

  /** A key by id or key ARN, as KMS accepts; aliases are not kept by this endpoint. */
  const keyOf = (input: Json): LiveKey => {
    const id = requiredString(input, 'KeyId');
    const keyId = id.startsWith('arn:') ? (/:key\/([0-9a-f-]{36})$/.exec(id)?.[1] ?? '') : id;
    const key = keys.get(keyId);
    if (key && (!id.startsWith('arn:') || id === key.arn)) return key;
    if (id.startsWith('alias/') || id.includes(':alias/')) throw new KmsError('NotFoundException', `Alias ${id} is not found.`);
    if (!id.startsWith('arn:') && !/^[0-9a-f-]{36}$/.test(id)) throw new KmsError('NotFoundException', `Invalid keyId '${id}'`);
    throw new KmsError('NotFoundException', `Key '${id.startsWith('arn:') ? id : arnOf(id)}' does not exist`);
  };

  /** The bytes that are signed: the digest KMS was given, or SHA-256 of the raw message. */
  const digestOf = (input: Json): Buffer => {
    const algorithm = requiredString(input, 'SigningAlgorithm');
    if (algorithm !== SIGNING_ALGORITHM) {
      throw new KmsError('InvalidKeyUsageException', `SigningAlgorithm ${algorithm} is not valid for a ${KEY_SPEC} key; use ${SIGNING_ALGORITHM}.`);
    }
    const message = blob(input, 'Message');
    const type = input.MessageType ?? 'RAW';
    if (type === 'DIGEST') {
      if (message.length !== 32) throw validation(`Digest is invalid length for algorithm ${SIGNING_ALGORITHM}.`);
      return message;
    }
    if (type !== 'RAW') throw validation(`1 validation error detected: Value '${String(type)}' at 'messageType' failed to satisfy constraint: Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]`);
    if (message.length === 0 || message.length > MAX_RAW_MESSAGE_BYTES) {
      throw validation(`1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length between 1 and ${MAX_RAW_MESSAGE_BYTES}`);
    }
    return createHash('sha256').update(message).digest();
  };

  const operations: Record<string, Operation> = {
    CreateKey(input) {
      const spec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
      const usage = input.KeyUsage ?? 'ENCRYPT_DECRYPT';
      if (spec !== KEY_SPEC) throw new KmsError('UnsupportedOperationException', `The local KMS endpoint keeps ${KEY_SPEC} signing keys only (got KeySpec ${String(spec)}).`);
      if (usage !== KEY_USAGE) throw validation(`KeyUsage ${String(usage)} is not compatible with KeySpec ${KEY_SPEC}; use ${KEY_USAGE}.`);
      const description = input.Description ?? '';
      if (typeof description !== 'string') throw new KmsError('SerializationException', 'Description must be a string');
      const keyId = randomUUID();
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const stored: StoredKey = {
        keyId,
        arn: arnOf(keyId),
        creationDate: Math.floor(Date.now() / 1000),
        description,
        privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      };
      if (keyDir) writeFileSync(join(keyDir, `${keyId}.json`), JSON.stringify(stored), { mode: 0o600, flag: 'wx' });
      const key = live(stored);
      keys.set(keyId, key);
      return { KeyMetadata: metadata(key) };
    },

    DescribeKey(input) {
      return { KeyMetadata: metadata(keyOf(input)) };
    },

    GetPublicKey(input) {
      const key = keyOf(input);
      return {
        KeyId: key.arn,
        PublicKey: key.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
        KeySpec: KEY_SPEC,
        CustomerMasterKeySpec: KEY_SPEC,
        KeyUsage: KEY_USAGE,
        SigningAlgorithms: [SIGNING_ALGORITHM],
      };
    },

    Sign(input) {
      const key = keyOf(input);
      const signature = signDigest(key.privateKey, digestOf(input));
      return { KeyId: key.arn, Signature: Buffer.from(signature).toString('base64'), SigningAlgorithm: SIGNING_ALGORITHM };
    },

    Verify(input) {
      const key = keyOf(input);
      const digest = digestOf(input);
      const signature = blob(input, 'Signature');
      const raw = (input.MessageType ?? 'RAW') === 'RAW';
      // A raw message goes through node:crypto, so both paths are checked against an independent implementation.
      const valid = raw
        ? verify('sha256', blob(input, 'Message'), { key: key.publicKey, dsaEncoding: 'der' }, signature)
        : verifyDigest(key.publicKey, digest, signature);
      // KMS answers an invalid signature with an exception, never with SignatureValid: false.
      if (!valid) throw new KmsError('KMSInvalidSignatureException', 'Signature verification failed.');
      return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: SIGNING_ALGORITHM };
    },
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const target = req.headers['x-amz-target'];
      const operationName = typeof target === 'string' && target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : '';
      if (req.method !== 'POST' || !operationName) {
        throw new KmsError('UnknownOperationException', 'This endpoint speaks the AWS JSON 1.1 protocol: POST with X-Amz-Target TrentService.<Operation>.');
      }
      const operation = Object.hasOwn(operations, operationName) ? operations[operationName] : undefined;
      if (!operation) throw new KmsError('UnsupportedOperationException', `${operationName} is not supported by the local KMS endpoint.`);
      replyJson(res, '1.1', 200, operation(await readJsonBody(req, MAX_REQUEST_BYTES, BODY_ERRORS)));
    } catch (error) {
      const e = error instanceof KmsError ? error : new KmsError('KMSInternalException', error instanceof Error ? error.message : String(error), 500);
      replyJson(res, '1.1', e.status, { __type: e.type, message: e.message });
    }
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}



