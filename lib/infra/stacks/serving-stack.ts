// Serving: the real-time scoring function (online features + the registry's production model,
// onnxruntime in process) and the onnxruntime layer it runs with. API Gateway in front of it lives
// in the API stack, which invokes `scoring.alias`.
import type { StackProps } from 'aws-cdk-lib';
import { Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { FathomConfig } from '../config';
import { DEFAULT_CONFIG } from '../config';
import type { ModelRegistrySource, OnlineFeatureSource } from '../constructs/scoring-function';
import { ScoringFunction } from '../constructs/scoring-function';

export interface ServingStackProps extends StackProps {
  /** The online store to read entity state from (FeatureStoreStack). */
  readonly features: OnlineFeatureSource;
  /** The model registry to serve production versions from (the registry stack). */
  readonly registry: ModelRegistrySource;
  /**
   * Deployment settings (`scoring` and the feature settings f(S, e) depends on).
   * @default DEFAULT_CONFIG
   */
  readonly config?: FathomConfig;
  /**
   * The handler's entry file; tests point it at a small file to keep synth fast.
   * @default lambdas/scoring/handler.ts
   */
  readonly scoringEntry?: string;
}

export class ServingStack extends Stack {
  readonly scoring: ScoringFunction;

  constructor(scope: Construct, id: string, props: ServingStackProps) {
    super(scope, id, props);
    const config = props.config ?? DEFAULT_CONFIG;
    const s = config.scoring;

    this.scoring = new ScoringFunction(this, 'Scoring', {
      features: props.features,
      registry: props.registry,
      entry: props.scoringEntry,
      memorySize: s.memoryMb,
      timeout: Duration.seconds(s.timeoutSeconds),
      reservedConcurrency: s.reservedConcurrency,
      provisionedConcurrency: s.provisionedConcurrency,
      defaultModelName: s.defaultModelName,
      modelRefreshInterval: Duration.seconds(s.modelRefreshSeconds),
      allowedLateness: Duration.seconds(config.features.allowedLatenessSeconds),
      logRetention: s.logRetentionDays,
      logLevel: s.logLevel,
      tracing: s.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
    });
  }
}
