import { describe, expect, it } from 'vitest';
import { ConfigError, SignatureError, ValidationError } from '../../../lib/core/errors';
import type { Manifest, ModelName, ModelVersion } from '../../../lib/core/models/manifest';
import { packageKeys, modelPartitionKey, versionSortKey } from '../../../lib/core/registry/keys';
import { checkManifest, checkRegistration, checkStoredPackage, parseStoredManifest } from '../../../lib/core/registry/package-checks';
import { parseTrustedKeySetting } from '../../../lib/core/registry/signing';
import { testPackage } from './fixtures';

const { manifest, onnx: _onnx } = testPackage('fraud', '3');
const digest = manifest.onnx_sha256;
const signed: Manifest = { ...manifest, signature: { key_id: 'local:abc', algorithm: 'ECDSA_SHA_256', value: 'AAAA' } };

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error.field;
    throw error;
  }
  throw new Error('accepted');
}

function signatureCheck(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof SignatureError) return error.check;
    throw error;
  }
  throw new Error('accepted');
}

const withBaseline = (features: Record<string, unknown>, score = manifest.baseline.score) => ({ ...manifest, baseline: { features, score } });

describe('checkManifest', () => {
  it('accepts a sane manifest', () => {
    expect(checkManifest(manifest)).toEqual(manifest);
    expect(checkManifest(manifest, { featureSets: ['card_fraud.v1'], tiers: ['cpu', 'gpu-small'] }).tier).toBe('cpu');
  });

  it.each([
    ['a feature set that is not <name>.v<N>', { ...manifest, feature_set: 'card_fraud' }, 'manifest.feature_set'],
    ['an unknown tier name format', { ...manifest, tier: 'GPU' }, 'manifest.tier'],
    ['output and input of one name', { ...manifest, output: { name: 'features' } }, 'manifest.output.name'],
    ['a threshold above 1', { ...manifest, threshold: 1.5 }, 'manifest.threshold'],
    ['more positives than rows', { ...manifest, metrics: { holdout: { ...manifest.metrics.holdout, positives: 2000 } } }, 'manifest.metrics.holdout.positives'],
    ['an AUC above 1', { ...manifest, metrics: { holdout: { ...manifest.metrics.holdout, roc_auc: 1.2 } } }, 'manifest.metrics.holdout.roc_auc'],
    ['a negative log loss', { ...manifest, metrics: { holdout: { ...manifest.metrics.holdout, log_loss: -1 } } }, 'manifest.metrics.holdout.log_loss'],
    ['an unknown field', { ...manifest, extra: 1 }, 'manifest'],
  ])('refuses %s, naming the field', (_what, input, field) => {
    expect(fieldOf(() => checkManifest(input))).toBe(field);
  });

  it('refuses baselines that do not match the features', () => {
    const { amount, txn_count_1h, merchant_risk } = manifest.baseline.features;
    expect(fieldOf(() => checkManifest(withBaseline({ amount, txn_count_1h })))).toBe('manifest.baseline.features.merchant_risk');
    expect(fieldOf(() => checkManifest(withBaseline({ amount, txn_count_1h, merchant_risk, other: amount })))).toBe('manifest.baseline.features.other');
    expect(fieldOf(() => checkManifest(withBaseline({ amount: { edges: [0, 5, 5], counts: [1, 1], missing: 0 }, txn_count_1h, merchant_risk })))).toBe(
      'manifest.baseline.features.amount.edges',
    );
    expect(fieldOf(() => checkManifest(withBaseline({ amount, txn_count_1h, merchant_risk }, { edges: [0, 0.5, 2], counts: [1, 1], missing: 0 })))).toBe(
      'manifest.baseline.score.edges',
    );
  });

  it('refuses feature sets and tiers this platform does not have', () => {
    expect(fieldOf(() => checkManifest(manifest, { featureSets: ['card_fraud.v2'] }))).toBe('manifest.feature_set');
    expect(fieldOf(() => checkManifest({ ...manifest, tier: 'gpu-huge' }, { tiers: ['cpu', 'gpu-small'] }))).toBe('manifest.tier');
  });
});

describe('checkRegistration', () => {
  it('requires the manifest digest to be the digest of the ONNX bytes given with it', () => {
    expect(checkRegistration(manifest, digest).version).toBe('3');
    expect(fieldOf(() => checkRegistration(manifest, 'b'.repeat(64)))).toBe('manifest.onnx_sha256');
  });
});

describe('stored package checks', () => {
  const name = 'fraud' as ModelName;
  const version = '3' as ModelVersion;

  it('passes a signed package of the version it was found under', () => {
    expect(checkStoredPackage(signed, digest, name, version).signature.key_id).toBe('local:abc');
  });

  it.each([
    ['another name', () => checkStoredPackage(signed, digest, 'other' as ModelName, version), 'manifest.name'],
    ['another version (a package copied under other keys)', () => checkStoredPackage(signed, digest, name, '4' as ModelVersion), 'manifest.version'],
    ['no signature', () => checkStoredPackage(manifest, digest, name, version), 'signature'],
    ['changed ONNX bytes', () => checkStoredPackage(signed, 'c'.repeat(64), name, version), 'onnx_sha256'],
    ['text that is not JSON', () => parseStoredManifest('{"format":', 'fraud@3'), 'manifest'],
    ['a field changed to an invalid value', () => parseStoredManifest(JSON.stringify({ ...signed, threshold: 7 }), 'fraud@3'), 'manifest'],
  ])('refuses %s with a SignatureError naming the check', (_what, fn, check) => {
    expect(signatureCheck(fn)).toBe(check);
  });
});

describe('where packages and items live', () => {
  it('uses models/<name>/<version>/ and model#/version# keys', () => {
    expect(packageKeys('fraud' as ModelName, '3' as ModelVersion)).toEqual({ modelKey: 'models/fraud/3/model.onnx', manifestKey: 'models/fraud/3/manifest.json' });
    expect([modelPartitionKey('fraud' as ModelName), versionSortKey('3' as ModelVersion)]).toEqual(['model#fraud', 'version#3']);
  });
});

describe('parseTrustedKeySetting', () => {
  it('reads kms: and local: entries, comma-separated for rotation', () => {
    expect(parseTrustedKeySetting('kms:arn:aws:kms:eu-west-1:111122223333:key/abc, local:/keys/model-signing.pub.pem')).toEqual([
      { kind: 'kms', keyId: 'arn:aws:kms:eu-west-1:111122223333:key/abc' },
      { kind: 'local', path: '/keys/model-signing.pub.pem' },
    ]);
  });

  it.each([undefined, '', 'arn:aws:kms:x', 'file:/x', 'kms:', 'local: '])('refuses %j naming the variable', (value) => {
    expect(() => parseTrustedKeySetting(value)).toThrow(ConfigError);
    try {
      parseTrustedKeySetting(value);
    } catch (error) {
      expect((error as ConfigError).field).toBe('FATHOM_MODEL_SIGNING_KEY');
    }
  });
});
