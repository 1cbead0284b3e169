import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/infra/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    // Two cores in CI: forks keep native stand-ins (leveldb) isolated per file.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // The SDK's notice that its 2027 releases need Node 22 (the Lambdas run nodejs22.x; CI and
    // laptops may still run 20): silenced as bin/fathom.ts does, so test output shows failures.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
