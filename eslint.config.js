// @ts-check
import tseslint from 'typescript-eslint';

// The layering rule of DESIGN.md, enforced: lib/core is pure (no I/O, no SDK), so it may not
// import adapters, handlers, infra, the local platform or any @aws-sdk package.
const coreRestrictions = {
  patterns: [
    { group: ['**/adapters', '**/adapters/**'], message: 'lib/core is pure: it may not import lib/adapters.' },
    { group: ['**/lambdas/**'], message: 'lib/core may not import handlers.' },
    { group: ['**/infra/**', '**/local/**', '**/cli/**'], message: 'lib/core imports nothing outside lib/core.' },
    { group: ['@aws-sdk/*', '@smithy/*', 'aws-cdk-lib', 'aws-cdk-lib/*'], message: 'lib/core may not use the AWS SDK or CDK.' },
  ],
  paths: [
    { name: 'node:fs', message: 'lib/core does no I/O.' },
    { name: 'node:fs/promises', message: 'lib/core does no I/O.' },
    { name: 'node:http', message: 'lib/core does no I/O.' },
    { name: 'node:net', message: 'lib/core does no I/O.' },
    { name: 'node:child_process', message: 'lib/core does no I/O.' },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', '.fathom/**', 'dist/**', 'bin/fathom.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['lib/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', coreRestrictions] },
  },
  {
    // Infra points at handler entry files by path; it never imports their code.
    files: ['lib/infra/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/lambdas/**', '**/adapters/**', '**/local/**'], message: 'lib/infra is CDK only.' }] }],
    },
  },
);
