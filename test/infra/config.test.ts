import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/core/errors';
import { ROUTES } from '../../lib/core/api/routes';
import { API_TIER_DEFAULTS } from '../../lib/core/resources';
import { DEFAULT_CONFIG, loadConfig, routeKey } from '../../lib/infra/config';
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
      alarms: { iteratorAgeSeconds: 300, scoringP99Ms: 250, scoringErrorRatePercent: 1 },
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
      api: {
        auth: { mode: 'cognito', accessTokenValidityMinutes: 60 },
        tiers: {
          standard: { rateLimit: 50, burstLimit: 100, quotaPerDay: 1_000_000 },
          premium: { rateLimit: 500, burstLimit: 1000, quotaPerDay: 20_000_000 },
        },
        clients: [{ name: 'default', tier: 'standard', scopes: ['score', 'ingest', 'label', 'read'] }],
        throttle: { rateLimit: 1000, burstLimit: 2000 },
        routeThrottles: {
          'POST /score': { rateLimit: 1000, burstLimit: 2000 },
          'POST /events': { rateLimit: 200, burstLimit: 400 },
          'POST /labels': { rateLimit: 50, burstLimit: 100 },
          'GET /features/{entity_id}': { rateLimit: 500, burstLimit: 1000 },
          'GET /models': { rateLimit: 20, burstLimit: 40 },
          'GET /models/{name}': { rateLimit: 20, burstLimit: 40 },
        },
        waf: { rateLimitPerIp: 200_000, evaluationWindowSeconds: 300, logRetentionDays: 30 },
        accessLogRetentionDays: 30,
        executionLogLevel: 'ERROR',
        cloudWatchRole: true,
        tracing: true,
        functions: { memoryMb: 512, timeoutSeconds: 10, logRetentionDays: 30, logLevel: 'INFO' },
      },
    });
    expect(DEFAULT_CONFIG).toEqual(loadConfig({}));
    // The usage-plan tiers are the shared defaults the local API's token buckets use too.
    expect(DEFAULT_CONFIG.api.tiers).toEqual(API_TIER_DEFAULTS);
    // Every route of the route table has a method-level throttle, and no other key exists.
    expect(Object.keys(DEFAULT_CONFIG.api.routeThrottles).sort()).toEqual(ROUTES.map((r) => routeKey(r)).sort());
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
    [{ alarms: { scoringP99Ms: 5 } }, 'fathom.alarms.scoringP99Ms'],
    [{ alarms: { scoringErrorRatePercent: 0 } }, 'fathom.alarms.scoringErrorRatePercent'],
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
    [{ api: { auth: { mode: 'saml' } } }, 'fathom.api.auth.mode'],
    [{ api: { auth: { mode: 'oidc', audience: 'a', jwksUrl: 'https://issuer.example.com/jwks' } } }, 'fathom.api.auth.issuer'],
    [{ api: { auth: { mode: 'oidc', issuer: 'http://issuer.example.com', audience: 'a', jwksUrl: 'https://issuer.example.com/jwks' } } }, 'fathom.api.auth.issuer'],
    [{ api: { auth: { mode: 'oidc', issuer: 'https://issuer.example.com', audience: '', jwksUrl: 'https://issuer.example.com/jwks' } } }, 'fathom.api.auth.audience'],
    [{ api: { auth: { mode: 'oidc', issuer: 'https://issuer.example.com', audience: 'a', jwksUrl: 'ftp://x/jwks' } } }, 'fathom.api.auth.jwksUrl'],
    [{ api: { auth: { mode: 'oidc', issuer: 'https://i.example.com', audience: 'a', jwksUrl: 'https://i.example.com/j', resultsCacheSeconds: 3601 } } }, 'fathom.api.auth.resultsCacheSeconds'],
    [{ api: { auth: { mode: 'cognito', domainPrefix: 'my-cognito-pool' } } }, 'fathom.api.auth.domainPrefix'],
    [{ api: { auth: { mode: 'cognito', issuer: 'https://i.example.com' } } }, 'fathom.api.auth.issuer'],
    [{ api: { tiers: {} } }, 'fathom.api.tiers'],
    [{ api: { tiers: { gold: { rateLimit: 0, burstLimit: 1, quotaPerDay: 1 } } } }, 'fathom.api.tiers.gold.rateLimit'],
    [{ api: { tiers: { gold: { rateLimit: 1, burstLimit: 5001, quotaPerDay: 1 } } } }, 'fathom.api.tiers.gold.burstLimit'],
    [{ api: { tiers: { Gold: { rateLimit: 1, burstLimit: 1, quotaPerDay: 1 } } } }, 'fathom.api.tiers.Gold'],
    [{ api: { clients: [{ name: 'Shop', tier: 'standard' }] } }, 'fathom.api.clients.0.name'],
    [{ api: { clients: [{ name: 'shop', tier: 'gold' }] } }, 'fathom.api.clients.0.tier'],
    [{ api: { clients: [{ name: 'shop', tier: 'standard', scopes: ['admin'] }] } }, 'fathom.api.clients.0.scopes.0'],
    [{ api: { clients: [{ name: 'shop', tier: 'standard', scopes: [] }] } }, 'fathom.api.clients.0.scopes'],
    [{ api: { clients: [{ name: 'shop', tier: 'standard' }, { name: 'shop', tier: 'premium' }] } }, 'fathom.api.clients'],
    [{ api: { throttle: { rateLimit: 10_001, burstLimit: 1 } } }, 'fathom.api.throttle.rateLimit'],
    [{ api: { routeThrottles: { 'POST /scores': { rateLimit: 1, burstLimit: 1 } } } }, 'fathom.api.routeThrottles.POST /scores'],
    [{ api: { routeThrottles: { 'POST /score': { rateLimit: 1 } } } }, 'fathom.api.routeThrottles.POST /score.burstLimit'],
    [{ api: { waf: { rateLimitPerIp: 9 } } }, 'fathom.api.waf.rateLimitPerIp'],
    [{ api: { waf: { evaluationWindowSeconds: 30 } } }, 'fathom.api.waf.evaluationWindowSeconds'],
    [{ api: { executionLogLevel: 'DEBUG' } }, 'fathom.api.executionLogLevel'],
    [{ api: { functions: { timeoutSeconds: 30 } } }, 'fathom.api.functions.timeoutSeconds'],
    [{ api: { accessLogRetentionDays: 31 } }, 'fathom.api.accessLogRetentionDays'],
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
    expect(loadConfig({ alarms: { email: 'oncall@example.com', iteratorAgeSeconds: 60 } }).alarms).toEqual({ email: 'oncall@example.com', iteratorAgeSeconds: 60, scoringP99Ms: 250, scoringErrorRatePercent: 1 });
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

  it('accepts an OIDC issuer and keeps the method-level throttles not given at their defaults', () => {
    const config = loadConfig({
      api: {
        auth: { mode: 'oidc', issuer: 'https://issuer.example.com/', audience: 'fathom-api', jwksUrl: 'https://issuer.example.com/.well-known/jwks.json' },
        routeThrottles: { 'POST /score': { rateLimit: 10, burstLimit: 20 } },
      },
    });
    expect(config.api.auth).toEqual({ mode: 'oidc', issuer: 'https://issuer.example.com/', audience: 'fathom-api', jwksUrl: 'https://issuer.example.com/.well-known/jwks.json', resultsCacheSeconds: 300 });
    expect(config.api.routeThrottles['POST /score']).toEqual({ rateLimit: 10, burstLimit: 20 });
    expect(config.api.routeThrottles['POST /events']).toEqual({ rateLimit: 200, burstLimit: 400 });
  });

  it('rejects a WAF limit per address below a configured client’s own plan over the window', () => {
    // premium: 500 requests/s × 300 s = 150000 per window.
    const error = configError({ api: { clients: [{ name: 'bank', tier: 'premium' }], waf: { rateLimitPerIp: 100_000 } } });
    expect(error.field).toBe('fathom.api.waf.rateLimitPerIp');
    expect(error.message).toMatch(/at least 150000/);
    expect(loadConfig({ api: { clients: [{ name: 'bank', tier: 'premium' }], waf: { rateLimitPerIp: 150_000 } } }).api.waf.rateLimitPerIp).toBe(150_000);
  });

  it('rejects a context that is not an object', () => {
    expect(configError('fathom').field).toBe('fathom');
  });
});
