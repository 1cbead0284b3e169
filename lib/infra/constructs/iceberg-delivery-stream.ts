// An Amazon Data Firehose delivery stream (DirectPut) with the Apache Iceberg destination, feeding
// exactly one Glue-catalogued Iceberg table: every record is one JSON row of that table. Records
// Firehose cannot deliver go to the error output prefix of the lakehouse bucket (S3 backup mode
// FailedDataOnly), the stream is encrypted at rest with the lakehouse's customer key, and delivery
// is logged to CloudWatch.
//
// The stream has its own role, allowed exactly what the Iceberg destination does: read and update
// its one table in the Glue catalog, read and write that table's folder and its own error prefix,
// use the key only through S3, and write to its own log stream.
import type { Duration } from 'aws-cdk-lib';
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { IcebergTable } from './iceberg-table';
import { acknowledgeWildcardResources } from './wildcard-acknowledgments';

export interface IcebergDeliveryStreamProps {
  readonly deliveryStreamName: string;
  /** The one table every record is a row of. */
  readonly table: IcebergTable;
  /** The lakehouse bucket: the table's files and the error output live in it. */
  readonly bucket: s3.IBucket;
  /** Encrypts the stream at rest and the error output (SSE-KMS through S3). */
  readonly encryptionKey: kms.IKey;
  /** Key prefix of undeliverable records, ending in `/`; Firehose adds `YYYY/MM/dd/HH/`. */
  readonly errorOutputPrefix: string;
  /** Firehose buffering hint: commit at least this often. */
  readonly bufferingInterval: Duration;
  /** Firehose buffering hint: commit once this much is buffered (1 to 128 MiB). */
  readonly bufferingSizeMiB: number;
  /** How long a failed delivery is retried before the records go to the error output. */
  readonly retryDuration: Duration;
  readonly logRetention: logs.RetentionDays;
  /** Applied to the log group. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The log stream Firehose writes destination delivery errors to. */
export const DELIVERY_LOG_STREAM = 'DestinationDelivery';

export class IcebergDeliveryStream extends Construct {
  readonly deliveryStream: firehose.CfnDeliveryStream;
  readonly deliveryStreamName: string;
  readonly deliveryStreamArn: string;
  /** Assumed by Firehose to write the table. */
  readonly role: iam.Role;
  /** The role's only policy. */
  readonly policy: iam.Policy;
  readonly logGroup: logs.LogGroup;
  readonly table: IcebergTable;

  constructor(scope: Construct, id: string, props: IcebergDeliveryStreamProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { table, bucket } = props;
    this.table = table;
    this.deliveryStreamName = props.deliveryStreamName;

    // Named as Firehose names its own, so the ARN below needs no token.
    const logGroupName = `/aws/kinesisfirehose/${props.deliveryStreamName}`;
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const logStream = new logs.LogStream(this, 'DeliveryLogs', {
      logGroup: this.logGroup,
      logStreamName: DELIVERY_LOG_STREAM,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.role = new iam.Role(this, 'Role', {
      description: `Firehose ${props.deliveryStreamName}: writes the ${table.databaseName}.${table.tableName} Iceberg table`,
      // Confused-deputy guard: Firehose passes the account as the external id.
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', { conditions: { StringEquals: { 'sts:ExternalId': stack.account } } }),
    });

    const catalogArn = stack.formatArn({ service: 'glue', resource: 'catalog', arnFormat: ArnFormat.NO_RESOURCE_NAME });
    const databaseArn = stack.formatArn({ service: 'glue', resource: 'database', resourceName: table.databaseName });
    const errorObjects = bucket.arnForObjects(`${props.errorOutputPrefix}*`);
    const logStreamArn = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `${logGroupName}:log-stream:${DELIVERY_LOG_STREAM}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    this.policy = new iam.Policy(this, 'Policy', {
      roles: [this.role],
      statements: [
        // Glue authorizes a table call against the catalog, the database and the table alike.
        new iam.PolicyStatement({ actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:UpdateTable'], resources: [catalogArn, databaseArn, table.tableArn] }),
        new iam.PolicyStatement({
          actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          resources: [table.objectsArn, errorObjects],
        }),
        new iam.PolicyStatement({ actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], resources: [bucket.bucketArn] }),
        new iam.PolicyStatement({ actions: ['logs:PutLogEvents'], resources: [logStreamArn] }),
        // The key only through S3 (the error output, SSE-KMS with a bucket key), as key-grants.ts grants it.
        new iam.PolicyStatement({
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [props.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.${stack.urlSuffix}` } },
        }),
      ],
    });
    acknowledgeWildcardResources(
      this.policy,
      [table.objectsArn, errorObjects],
      `The Iceberg destination names the data, metadata and error files it writes itself: object access covers this stream's table folder (${table.locationPrefix}) and error prefix (${props.errorOutputPrefix}) of the lakehouse bucket, nothing else.`,
    );

    const destinationLogging = { enabled: true, logGroupName: this.logGroup.logGroupName, logStreamName: logStream.logStreamName };
    const bufferingHints = { intervalInSeconds: props.bufferingInterval.toSeconds(), sizeInMBs: props.bufferingSizeMiB };

    this.deliveryStream = new firehose.CfnDeliveryStream(this, 'Resource', {
      deliveryStreamName: props.deliveryStreamName,
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'CUSTOMER_MANAGED_CMK', keyArn: props.encryptionKey.keyArn },
      icebergDestinationConfiguration: {
        roleArn: this.role.roleArn,
        catalogConfiguration: { catalogArn },
        // One table: no routing expression, every record is inserted into it.
        destinationTableConfigurationList: [
          { destinationDatabaseName: table.databaseName, destinationTableName: table.tableName, s3ErrorOutputPrefix: props.errorOutputPrefix },
        ],
        // Rows are only ever inserted: Firehose then scales the stream's throughput on its own.
        appendOnly: true,
        bufferingHints,
        retryOptions: { durationInSeconds: props.retryDuration.toSeconds() },
        cloudWatchLoggingOptions: destinationLogging,
        s3BackupMode: 'FailedDataOnly',
        s3Configuration: {
          bucketArn: bucket.bucketArn,
          roleArn: this.role.roleArn,
          errorOutputPrefix: props.errorOutputPrefix,
          bufferingHints,
          compressionFormat: 'UNCOMPRESSED',
          encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: props.encryptionKey.keyArn } },
          cloudWatchLoggingOptions: destinationLogging,
        },
      },
    });
    // Firehose checks its role when the stream is created: the policy must exist first, and so
    // must the table it validates.
    this.deliveryStream.node.addDependency(this.policy, table.table);
    this.deliveryStreamArn = this.deliveryStream.attrArn;
  }

  /**
   * Lets `grantee` send rows: firehose:PutRecord and firehose:PutRecordBatch on this stream only.
   * No KMS permission: Firehose encrypts at rest with its own grant on the key.
   */
  grantPutRecords(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['firehose:PutRecord', 'firehose:PutRecordBatch'], resourceArns: [this.deliveryStreamArn] });
  }
}
