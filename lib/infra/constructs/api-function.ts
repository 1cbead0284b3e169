// A Lambda behind the API edge (labels, features, models, the OIDC authorizer): arm64, the
// project's Node.js runtime, an ESM bundle made by the local esbuild (no Docker), its own log group
// and a role that holds only what the stack grants it.
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { handlerEntry, LOCK_FILE, REPO_ROOT } from '../entries';
import type { PowertoolsLogLevel } from './feature-transform';

export interface ApiFunctionProps {
  /** The handler's folder under lambdas/ and the Powertools service name. */
  readonly handlerName: string;
  /** What the function does, for its role's description. */
  readonly description: string;
  /**
   * The handler's entry file.
   * @default lambdas/<handlerName>/handler.ts
   */
  readonly entry?: string;
  /** Variables beyond the Powertools ones (ENV names from lib/core/resources.ts). */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * @default lambda.Runtime.NODEJS_22_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * @default 'INFO'
   */
  readonly logLevel?: PowertoolsLogLevel;
  /**
   * @default lambda.Tracing.ACTIVE
   */
  readonly tracing?: lambda.Tracing;
}

export class ApiFunction extends Construct {
  readonly lambdaFunction: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiFunctionProps) {
    super(scope, id);
    const runtime = props.runtime ?? lambda.Runtime.NODEJS_22_X;
    const tracing = props.tracing ?? lambda.Tracing.ACTIVE;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    // An explicit role: the default one attaches AWSLambdaBasicExecutionRole (any log group).
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.handlerName}: ${props.description}`,
    });
    this.logGroup.grantWrite(this.role);

    this.lambdaFunction = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry ?? handlerEntry(props.handlerName),
      handler: 'handler',
      runtime,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      tracing,
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: props.handlerName,
        POWERTOOLS_METRICS_NAMESPACE: 'Fathom',
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // ESM for @middy/core 6 and jose, with a `require` for CommonJS dependencies (see FeatureTransform).
        format: nodejs.OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The runtime provides AWS SDK v3.
        externalModules: ['@aws-sdk/*'],
        forceDockerBundling: false,
      },
    });

    if (runtime.name !== lambda.Runtime.NODEJS_LATEST.name) {
      Validations.of(this.lambdaFunction).acknowledge({
        id: 'AwsSolutions-L1',
        reason: `${runtime.name} is the runtime the project pins and tests against (DESIGN.md); moving to a newer Node.js is a deliberate change, not one made because CDK learned a new runtime.`,
      });
    }
    const defaultPolicy = this.role.node.tryFindChild('DefaultPolicy');
    if (tracing !== lambda.Tracing.DISABLED && defaultPolicy) {
      Validations.of(defaultPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
      });
    }
  }
}
