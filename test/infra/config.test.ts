import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/core/errors';
import { DEFAULT_CONFIG, loadConfig } from '../../lib/infra/config';
import { cdkJsonContext } from './app-fixture';

/** The ConfigError thrown for `raw`, or a test failure when none is. */
function configError(raw: unknown): ConfigError {
  try {
    loadConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

describe('loadConfig', () => {
  it('fills in the documented defaults when cdk.json has no fathom context', () => {
    expect(loadConfig(undefined)).toEqual({
      prefix: 'fathom',
      env: {},
      stream: { retentionHours: 24 },
      featureTransform: {
        batchSize: 500,
        maxBatchingWindowSeconds: 1,
        parallelizationFactor: 1,
        maximumRetryAttempts: 5,
        maximumRecordAgeSeconds: 86_400,
        bisectOnError: true,
        memoryMb: 1024,
        timeoutSeconds: 60,
        logRetentionDays: 30,
        logLevel: 'INFO',
        tracing: true,
      },
      features: { allowedLatenessSeconds: 300, stateTtlDays: 45 },
      onlineStore: { deletionProtection: true, removalPolicy: 'retain' },
      alarms: { iteratorAgeSeconds: 300 },
      registry: { deletionProtection: true, removalPolicy: 'retain', accessLogRetentionDays: 365 },
      scoring: { defaultModelName: 'card-fraud', modelRefreshSeconds: 30, memoryMb: 1769, timeoutSeconds: 10, provisionedConcurrency: 0, logRetentionDays: 30, logLevel: 'INFO', tracing: true },
      offlineStore: {
        bufferingIntervalSeconds: 300,
        bufferingSizeMiB: 128,
        retryDurationSeconds: 300,
        logRetentionDays: 30,
        tableOptimizers: true,
        snapshotRetentionDays: 30,
        snapshotsToRetain: 10,
        orphanFileRetentionDays: 3,
        noncurrentVersionRetentionDays: 30,
        accessLogRetentionDays: 365,
        removalPolicy: 'retain',
      },
    });
    expect(DEFAULT_CONFIG).toEqual(loadConfig({}));
  });

  it("accepts cdk.json's own fathom context", () => {
    expect(() => loadConfig(cdkJsonContext().fathom)).not.toThrow();
  });

  it('fills defaults inside a partly given section', () => {
    const config = loadConfig({ featureTransform: { batchSize: 100 }, env: { region: 'eu-west-1' } });
    expect(config.featureTransform.batchSize).toBe(100);
    expect(config.featureTransform.maximumRetryAttempts).toBe(5);
    expect(config.env).toEqual({ region: 'eu-west-1' });
  });

  it.each([
    [{ featureTransform: { batchSize: 0 } }, 'fathom.featureTransform.batchSize'],
    [{ featureTransform: { batchSize: 10_001 } }, 'fathom.featureTransform.batchSize'],
    [{ featureTransform: { batchSize: 1.5 } }, 'fathom.featureTransform.batchSize'],
    [{ featureTransform: { batchSize: '500' } }, 'fathom.featureTransform.batchSize'],
    [{ featureTransform: { maxBatchingWindowSeconds: 301 } }, 'fathom.featureTransform.maxBatchingWindowSeconds'],
    [{ featureTransform: { parallelizationFactor: 11 } }, 'fathom.featureTransform.parallelizationFactor'],
    [{ featureTransform: { maximumRecordAgeSeconds: 30 } }, 'fathom.featureTransform.maximumRecordAgeSeconds'],
    [{ featureTransform: { memoryMb: 64 } }, 'fathom.featureTransform.memoryMb'],
    [{ featureTransform: { logRetentionDays: 31 } }, 'fathom.featureTransform.logRetentionDays'],
    [{ featureTransform: { logLevel: 'TRACE' } }, 'fathom.featureTransform.logLevel'],
    [{ features: { stateTtlDays: 0 } }, 'fathom.features.stateTtlDays'],
    [{ features: { allowedLatenessSeconds: -1 } }, 'fathom.features.allowedLatenessSeconds'],
    [{ stream: { retentionHours: 12 } }, 'fathom.stream.retentionHours'],
    [{ prefix: 'Fathom_Prod' }, 'fathom.prefix'],
    [{ env: { account: '1234' } }, 'fathom.env.account'],
    [{ env: { region: 'Europe' } }, 'fathom.env.region'],
    [{ alarms: { email: 'on-call' } }, 'fathom.alarms.email'],
    [{ alarms: { iteratorAgeSeconds: 9 } }, 'fathom.alarms.iteratorAgeSeconds'],
    [{ alarms: { iteratorAgeSeconds: 604_801 } }, 'fathom.alarms.iteratorAgeSeconds'],
    [{ alarms: { iteratorAgeSeconds: 60.5 } }, 'fathom.alarms.iteratorAgeSeconds'],
    [{ alarms: { iteratorAgeSeconds: '300' } }, 'fathom.alarms.iteratorAgeSeconds'],
    [{ alarms: { iteratorAge: 300 } }, 'fathom.alarms.iteratorAge'],
    [{ onlineStore: { removalPolicy: 'snapshot' } }, 'fathom.onlineStore.removalPolicy'],
    [{ onlineStore: { deletionProtection: 'yes' } }, 'fathom.onlineStore.deletionProtection'],
    [{ offlineStore: { bufferingIntervalSeconds: 901 } }, 'fathom.offlineStore.bufferingIntervalSeconds'],
    [{ offlineStore: { bufferingSizeMiB: 0 } }, 'fathom.offlineStore.bufferingSizeMiB'],
    [{ offlineStore: { bufferingSizeMiB: 129 } }, 'fathom.offlineStore.bufferingSizeMiB'],
    [{ offlineStore: { retryDurationSeconds: 7201 } }, 'fathom.offlineStore.retryDurationSeconds'],
    [{ offlineStore: { logRetentionDays: 31 } }, 'fathom.offlineStore.logRetentionDays'],
    [{ offlineStore: { snapshotRetentionDays: 0 } }, 'fathom.offlineStore.snapshotRetentionDays'],
    [{ offlineStore: { snapshotsToRetain: 0 } }, 'fathom.offlineStore.snapshotsToRetain'],
    [{ offlineStore: { orphanFileRetentionDays: 0 } }, 'fathom.offlineStore.orphanFileRetentionDays'],
    [{ offlineStore: { tableOptimizers: 'on' } }, 'fathom.offlineStore.tableOptimizers'],
    [{ offlineStore: { removalPolicy: 'snapshot' } }, 'fathom.offlineStore.removalPolicy'],
    [{ offlineStore: { bufferSize: 64 } }, 'fathom.offlineStore.bufferSize'],
  ])('rejects %j naming %s', (raw, field) => {
    const error = configError(raw);
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it('rejects an unknown key by its own path, so a typo cannot fall back to a default', () => {
    expect(configError({ featureTransform: { batchsize: 100 } }).field).toBe('fathom.featureTransform.batchsize');
    expect(configError({ retention: 24 }).field).toBe('fathom.retention');
  });

  it('rejects a record age beyond the stream retention', () => {
    const error = configError({ stream: { retentionHours: 24 }, featureTransform: { maximumRecordAgeSeconds: 90_000 } });
    expect(error.field).toBe('fathom.featureTransform.maximumRecordAgeSeconds');
    expect(loadConfig({ stream: { retentionHours: 48 }, featureTransform: { maximumRecordAgeSeconds: 90_000 } }).featureTransform.maximumRecordAgeSeconds).toBe(90_000);
  });

  it('accepts the alarm settings and keeps an unset e-mail unset', () => {
    expect(loadConfig({ alarms: { email: 'oncall@example.com', iteratorAgeSeconds: 60 } }).alarms).toEqual({ email: 'oncall@example.com', iteratorAgeSeconds: 60 });
    expect(loadConfig({ alarms: {} }).alarms).not.toHaveProperty('email');
  });

  it('rejects a lag threshold at which the lagging records are already gone', () => {
    // At the stream retention records expire (no record age limit set).
    const expired = configError({ stream: { retentionHours: 24 }, featureTransform: { maximumRecordAgeSeconds: -1 }, alarms: { iteratorAgeSeconds: 86_400 } });
    expect(expired.field).toBe('fathom.alarms.iteratorAgeSeconds');
    expect(expired.message).toMatch(/stream retention/);
    // At the maximum record age the event source sends them to the dead-letter queue.
    const discarded = configError({ featureTransform: { maximumRecordAgeSeconds: 3600 }, alarms: { iteratorAgeSeconds: 3600 } });
    expect(discarded.field).toBe('fathom.alarms.iteratorAgeSeconds');
    expect(discarded.message).toMatch(/maximumRecordAgeSeconds/);
    expect(loadConfig({ featureTransform: { maximumRecordAgeSeconds: 3600 }, alarms: { iteratorAgeSeconds: 3599 } }).alarms.iteratorAgeSeconds).toBe(3599);
    expect(loadConfig({ stream: { retentionHours: 48 }, featureTransform: { maximumRecordAgeSeconds: -1 }, alarms: { iteratorAgeSeconds: 86_400 } }).alarms.iteratorAgeSeconds).toBe(86_400);
  });

  it('rejects a context that is not an object', () => {
    expect(configError('fathom').field).toBe('fathom');
  });
});
