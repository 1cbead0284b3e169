// bin/app.ts run as the CDK CLI runs it: context in CDK_CONTEXT_JSON, output in CDK_OUTDIR.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/infra/entries';
import { cdkJsonContext } from './app-fixture';

const run = promisify(execFile);
const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

async function synth(context: Record<string, unknown>): Promise<{ code: number; stderr: string; outdir: string }> {
  const outdir = mkdtempSync(join(tmpdir(), 'fathom-app-'));
  const env = { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir };
  try {
    const { stderr } = await run(tsx, [join(REPO_ROOT, 'bin', 'app.ts')], { cwd: REPO_ROOT, env });
    return { code: 0, stderr, outdir };
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    return { code: failed.code ?? -1, stderr: failed.stderr ?? '', outdir };
  }
}

describe('bin/app.ts', () => {
  it("synthesizes every stack from cdk.json's context, with no AWS credentials", async () => {
    const result = await synth(cdkJsonContext());
    expect(result.stderr).not.toMatch(/AwsSolutions-/);
    expect(result.code).toBe(0);
    for (const stack of ['Ingestion', 'FeatureStore', 'Monitoring']) expect(existsSync(join(result.outdir, `${stack}.template.json`)), stack).toBe(true);
  });

  it('exits 1 naming the field when the fathom context is invalid', async () => {
    const context = { ...cdkJsonContext(), fathom: { featureTransform: { batchSize: 0 } } };
    const result = await synth(context);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('fathom.featureTransform.batchSize');
  });
});
