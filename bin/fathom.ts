export {};
// The local runtime is Node 20 (Lambdas deploy on nodejs22.x); the SDK's notice that its 2027
// releases will need Node 22 would otherwise interleave with every command's progress output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// `npx fathom <command>` / `npm start` (= `fathom local`). Entry point only: each command lives in lib/cli.
const commands: Record<string, { summary: string; load: () => Promise<(argv: string[]) => Promise<void>> }> = {
  local: { summary: 'run the platform locally on embedded stand-ins (npm start)', load: async () => (await import('../lib/cli/local')).runLocal },
  train: { summary: 'train the reference GBDT on training rows and write a model package', load: async () => (await import('../lib/cli/train')).runTrain },
  generate: { summary: 'generate the reference workload (events + labels) as JSONL / Parquet', load: async () => (await import('../lib/cli/generate')).runGenerate },
  models: { summary: 'the model registry: list, show, register, promote, roll back (local, or --aws)', load: async () => (await import('../lib/cli/models')).runModels },
  token: { summary: 'print an access token for the local API, signed by the local issuer', load: async () => (await import('../lib/cli/token')).runToken },
  'training-set': { summary: 'build a point-in-time training set from the offline store (Parquet splits + manifest)', load: async () => (await import('../lib/cli/training-set')).runTrainingSet },
  offline: { summary: 'the local offline store: list snapshots, compact small files, expire old snapshots', load: async () => (await import('../lib/cli/offline')).runOffline },
  backfill: { summary: 'recompute feature_log for a date range from the events table (batch driver)', load: async () => (await import('../lib/cli/backfill')).runBackfill },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return ['usage: fathom <command> [options]', '', 'commands:', ...Object.entries(commands).map(([c, { summary }]) => `  ${c.padEnd(width)}  ${summary}`), ''].join('\n');
}

const [command, ...rest] = process.argv.slice(2);
if (!command || command === '--help' || command === '-h' || command === 'help') {
  process.stdout.write(usage());
  process.exit(command ? 0 : 2);
}
const entry = commands[command];
if (!entry) {
  process.stderr.write(`fathom: unknown command '${command}'\n\n${usage()}`);
  process.exit(2);
}
try {
  await (await entry.load())(rest);
} catch (e) {
  const err = e as Error & { field?: string };
  process.stderr.write(`fathom ${command}: ${err.message}\n`);
  process.exit(err.field !== undefined ? 2 : 1);
}
