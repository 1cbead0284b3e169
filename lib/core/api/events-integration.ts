// POST /v1/events is a direct Kinesis integration on AWS (no Lambda): API Gateway validates the
// body against the request model, turns it into one PutRecords call with a mapping template, and
// turns PutRecords' answer into the client's with another. Both templates live here beside the
// function that computes the same answer locally, so the two cannot drift: the local API calls
// PutRecords on the local Kinesis with the same records and answers through `eventsAnswer`.
//
// The answer is per event, by position: a response template cannot see the request, so it cannot
// name event ids; `results[i]` is `events[i]`. Kinesis' ErrorMessage is never passed on (it names
// the stream, the shard and the account); its ErrorCode is mapped to an edge code.

/** What PutRecords answers, as far as the answer needs it. */
export interface PutRecordsResult {
  readonly FailedRecordCount?: number;
  readonly Records?: readonly { readonly SequenceNumber?: string; readonly ShardId?: string; readonly ErrorCode?: string }[];
}

export type EventResult = { readonly index: number; readonly accepted: true } | { readonly index: number; readonly accepted: false; readonly error_code: 'throttled' | 'internal_error' };

export interface EventsAnswer {
  readonly request_id: string;
  readonly accepted: number;
  readonly rejected: number;
  /** One per event, in request order. A rejected event may be sent again as it is. */
  readonly results: readonly EventResult[];
}

/**
 * What the client is told when PutRecords fails as a whole (status 503, code `unavailable`): the
 * batch may be sent again as it is. Nothing of Kinesis' own error reaches the client.
 */
export const EVENTS_UNAVAILABLE_MESSAGE = 'the event stream did not take the batch; send it again with backoff';

/** Kinesis' per-record error codes: throttling, or its own failure. */
const errorCodeOf = (kinesisCode: string): 'throttled' | 'internal_error' => (kinesisCode === 'ProvisionedThroughputExceededException' ? 'throttled' : 'internal_error');

export function eventsAnswer(result: PutRecordsResult, requestId: string): EventsAnswer {
  const records = result.Records ?? [];
  const results: EventResult[] = records.map((r, index) => (r.ErrorCode ? { index, accepted: false, error_code: errorCodeOf(r.ErrorCode) } : { index, accepted: true }));
  const rejected = results.filter((r) => !r.accepted).length;
  return { request_id: requestId, accepted: results.length - rejected, rejected, results };
}

/**
 * The integration request template: one record per event, its data the event's JSON exactly as
 * sent (`$input.json`), its partition key the event's `partitionKeyField`. The body was validated
 * against the request model before this runs.
 */
export function eventsRequestTemplate(streamName: string, partitionKeyField = 'entity_id'): string {
  return [
    '#set($events = $input.path(\'$.events\'))',
    '{',
    `  "StreamName": "${streamName}",`,
    '  "Records": [',
    '#foreach($e in $events)',
    `    {"Data": "$util.base64Encode($input.json("$.events[$foreach.index]"))", "PartitionKey": "$util.escapeJavaScript($e.${partitionKeyField})"}#if($foreach.hasNext),#end`,
    '#end',
    '  ]',
    '}',
  ].join('\n');
}

/** The integration response template of a 200 from PutRecords: `eventsAnswer` in VTL. */
export function eventsResponseTemplate(): string {
  return [
    "#set($r = $input.path('$'))",
    '#set($rejected = $r.FailedRecordCount)',
    '#set($accepted = $r.Records.size() - $rejected)',
    '{"request_id": "$context.requestId", "accepted": $accepted, "rejected": $rejected, "results": [',
    '#foreach($rec in $r.Records)',
    '#if($rec.ErrorCode)#if($rec.ErrorCode == "ProvisionedThroughputExceededException")#set($code = "throttled")#else#set($code = "internal_error")#end',
    '{"index": $foreach.index, "accepted": false, "error_code": "$code"}#else{"index": $foreach.index, "accepted": true}#end#if($foreach.hasNext),#end',
    '#end',
    ']}',
  ].join('\n');
}
