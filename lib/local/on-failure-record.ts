// The record Lambda sends to a stream event source mapping's on-failure destination (an SQS queue
// here) when it discards a batch: invocation metadata plus the position of the discarded records in
// the shard, never the records themselves (they stay readable in the stream until retention ends).
import type { ShardRecord } from './kinesis-event';

/** Why the batch was discarded; the local mapping has no maximum record age, so only retries exhaust it. */
export type DiscardCondition = 'RetryAttemptsExhausted';

export interface OnFailureRecord {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: DiscardCondition;
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: string;
    /** Present when the last attempt threw (or timed out), absent when it reported item failures. */
    readonly functionError?: 'Unhandled';
  };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly KinesisBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
}

export interface DiscardedBatch {
  readonly records: readonly ShardRecord[];
  readonly streamArn: string;
  readonly functionArn: string;
  readonly requestId: string;
  readonly condition: DiscardCondition;
  readonly invokeCount: number;
  readonly functionError: boolean;
  readonly now: number;
}

export function onFailureRecord(batch: DiscardedBatch): OnFailureRecord {
  const first = batch.records[0];
  const last = batch.records[batch.records.length - 1];
  if (!first || !last) throw new RangeError('an on-failure record describes at least one record');
  return {
    requestContext: {
      requestId: batch.requestId,
      functionArn: batch.functionArn,
      condition: batch.condition,
      approximateInvokeCount: batch.invokeCount,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: '$LATEST',
      ...(batch.functionError ? { functionError: 'Unhandled' as const } : {}),
    },
    version: '1.0',
    timestamp: new Date(batch.now).toISOString(),
    KinesisBatchInfo: {
      shardId: first.shardId,
      startSequenceNumber: first.sequenceNumber,
      endSequenceNumber: last.sequenceNumber,
      approximateArrivalOfFirstRecord: new Date(first.approximateArrivalTimestamp).toISOString(),
      approximateArrivalOfLastRecord: new Date(last.approximateArrivalTimestamp).toISOString(),
      batchSize: batch.records.length,
      streamArn: batch.streamArn,
    },
  };
}
