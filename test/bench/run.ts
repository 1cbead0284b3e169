// `npm run bench -- <suite> [--key value …]`: runs one benchmark suite and prints its JSON result
// as the last line of stdout. Progress goes to stderr. Each suite measures its subject beside a
// baseline in the same run, so the figures compare on the same machine and moment.
import { parseArgs } from 'node:util';

// The SDK's Node 22 notice would interleave with the progress lines (bin/fathom.ts silences it too).
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const suites: Record<string, () => Promise<{ run: (opts: Record<string, string | undefined>) => Promise<unknown> }>> = {
  api: () => import('./api'),
  pipeline: () => import('./pipeline'),
  scoring: () => import('./scoring'),
  training: () => import('./training'),
  offline: () => import('./offline'),
};

const [suite, ...rest] = process.argv.slice(2);
if (!suite || !(suite in suites)) {
  process.stderr.write(`usage: npm run bench -- <suite> [options]\nsuites: ${Object.keys(suites).join(', ')}\n`);
  process.exit(2);
}
const { values } = parseArgs({ args: rest, options: { events: { type: 'string' }, batches: { type: 'string' }, only: { type: 'string' }, out: { type: 'string' }, requests: { type: 'string' }, trees: { type: 'string' }, rates: { type: 'string' }, seconds: { type: 'string' } }, strict: true });
const mod = await suites[suite]!();
const result = await mod.run(values);
const json = JSON.stringify({ suite, node: process.version, at: new Date().toISOString(), ...(result as object) });
if (values.out) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(values.out, json + '\n');
}
process.stdout.write(json + '\n');
