// Turns Kinesis GetRecords output into the KinesisStreamEvent Lambda hands a function, field for
// field as AWS documents it (data base64, arrival time in epoch seconds, eventID "shardId:seq").
import type { _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

/** A record as read from a shard, with what the event needs that GetRecords does not repeat. */
export interface ShardRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
  /** Epoch milliseconds. */
  readonly approximateArrivalTimestamp: number;
}

export interface EventSourceIdentity {
  readonly streamArn: string;
  readonly region: string;
  /** The function's execution role, which AWS reports as invokeIdentityArn. */
  readonly invokeIdentityArn: string;
}

export function fromGetRecords(shardId: string, record: KinesisRecord): ShardRecord {
  return {
    shardId,
    sequenceNumber: record.SequenceNumber ?? '',
    partitionKey: record.PartitionKey ?? '',
    data: record.Data ?? new Uint8Array(),
    approximateArrivalTimestamp: record.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
  };
}

export function toStreamRecord(record: ShardRecord, source: EventSourceIdentity): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.partitionKey,
      sequenceNumber: record.sequenceNumber,
      data: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength).toString('base64'),
      approximateArrivalTimestamp: record.approximateArrivalTimestamp / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${record.shardId}:${record.sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: source.invokeIdentityArn,
    awsRegion: source.region,
    eventSourceARN: source.streamArn,
  };
}

export function toStreamEvent(records: readonly ShardRecord[], source: EventSourceIdentity): KinesisStreamEvent {
  return { Records: records.map((r) => toStreamRecord(r, source)) };
}
