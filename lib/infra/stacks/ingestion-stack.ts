// Ingestion: the `events` Kinesis stream every producer writes to and the feature pipeline reads.
import type { StackProps } from 'aws-cdk-lib';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { platformResources } from '../../core/resources';
import { grantKeyViaService } from '../constructs/key-grants';

export interface IngestionStackProps extends StackProps {
  /**
   * Prefix of physical resource names (lib/core/resources.ts).
   * @default 'fathom'
   */
  readonly prefix?: string;
  /**
   * How long records stay readable on the stream.
   * @default Duration.hours(24)
   */
  readonly retentionPeriod?: Duration;
}

export class IngestionStack extends Stack {
  /** The `events` stream, partitioned by entity id (see platformResources().eventsStream). */
  readonly stream: kinesis.Stream;
  /** The customer-managed key that encrypts the stream. */
  readonly encryptionKey: kms.Key;

  constructor(scope: Construct, id: string, props: IngestionStackProps = {}) {
    super(scope, id, props);
    const resources = platformResources(props.prefix);

    this.encryptionKey = new kms.Key(this, 'EventsKey', {
      alias: `alias/${resources.eventsStream.name}`,
      description: `Encrypts the ${resources.eventsStream.name} Kinesis stream`,
      enableKeyRotation: true,
    });

    this.stream = new kinesis.Stream(this, 'Events', {
      streamName: resources.eventsStream.name,
      // On-demand: capacity follows traffic, no shard count to size or reshard.
      streamMode: kinesis.StreamMode.ON_DEMAND,
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: this.encryptionKey,
      retentionPeriod: props.retentionPeriod ?? Duration.hours(24),
    });

    Validations.of(this.stream).acknowledge({
      id: 'AwsSolutions-KDS3',
      reason: 'The events are card transactions: a customer-managed key gives a key policy we control and a CloudTrail record of every decrypt; its per-request cost is accepted.',
    });
  }

  /**
   * Lets `grantee` put records. Narrower than `stream.grantWrite`, which adds KMS action
   * wildcards: an SSE producer needs only `kms:GenerateDataKey`, and only through Kinesis.
   */
  grantWrite(grantee: iam.IGrantable): iam.Grant {
    return this.stream
      .grant(grantee, 'kinesis:PutRecord', 'kinesis:PutRecords', 'kinesis:ListShards')
      .combine(grantKeyViaService(this.encryptionKey, grantee, 'kinesis', 'kms:GenerateDataKey'));
  }

  /** Lets `grantee` read records (and decrypt with the stream's key). */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.stream.grantRead(grantee);
  }
}
