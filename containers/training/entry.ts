// The training image's entry point. SageMaker starts the container as `<image> train`; the
// contract itself lives in lib/adapters/sagemaker-training.ts. SIGTERM (a spot interruption or
// StopTrainingJob) ends the run after the current tree with a checkpoint, which SageMaker syncs
// to S3 and restores when the job restarts.
import { runSageMakerTraining } from '../../lib/adapters/sagemaker-training';

const root = process.env.FATHOM_SAGEMAKER_ROOT ?? undefined;
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
  process.stderr.write('training: SIGTERM, checkpointing after the current tree\n');
});

let lastLine = 0;
const outcome = await runSageMakerTraining({
  root,
  shouldStop: () => stopping,
  onProgress: (e) => {
    // CloudWatch keeps every line: one every 10 s, plus each phase change.
    if (e.phase === 'training' || e.phase === 'reading') {
      if (Date.now() - lastLine < 10_000) return;
      lastLine = Date.now();
    }
    process.stdout.write(`${JSON.stringify(e)}\n`);
  },
});
if (!outcome.ok) {
  process.stderr.write(`training failed: ${outcome.reason}\n`);
  process.exit(1);
}
if (outcome.result.status === 'interrupted') {
  process.stdout.write(`${JSON.stringify({ status: 'interrupted', trees: outcome.result.iteration })}\n`);
  process.exit(143);
}
const m = outcome.result.manifest;
process.stdout.write(`${JSON.stringify({ status: 'completed', name: m.name, version: m.version, holdout: m.metrics.holdout })}\n`);
