// POST /v1/labels: the body validated with the route's schema, then every label as one row of the
// offline `labels` table through its Firehose delivery stream. All or nothing: FirehoseSink sends
// every row or throws (a retryable error when Firehose keeps refusing some), so a client told
// "accepted" can forget the labels, and a client told 503 sends the same request again.
import { parseJsonBody } from '../../core/api/request';
import { LabelsRequestSchema } from '../../core/api/routes';
import { ValidationError } from '../../core/errors';
import { parseRow } from '../../core/iceberg/table-definition';
import { LABELS_TABLE, type LabelsRow } from '../../core/offline/tables';
import type { FirehoseSink } from '../firehose-sink';

export interface LabelsAnswer {
  readonly request_id: string;
  readonly accepted: number;
  /** One per label, in request order. */
  readonly results: readonly { readonly index: number; readonly event_id: string; readonly accepted: true }[];
}

export class LabelsService {
  constructor(private readonly sink: Pick<FirehoseSink<LabelsRow>, 'send'>) {}

  /** @throws ValidationError naming the field; the sink's errors. */
  async submit(body: string | null | undefined, requestId: string): Promise<LabelsAnswer> {
    const parsed = parseJsonBody(LabelsRequestSchema, body);
    if (!parsed.ok) throw parsed.error;
    // The table's own check too, first: the sink would refuse the same row with an error naming
    // the delivery stream, which is not the client's business. Here the field is the client's.
    const rows: LabelsRow[] = parsed.value.labels.map((l, i) => {
      const row = parseRow(LABELS_TABLE, { event_id: l.event_id, label: l.label, labeled_at: l.labeled_at }, `labels.${i}`);
      if (!row.ok) throw new ValidationError(row.error.message.replace(/^labels /, ''), row.error.field);
      return row.row;
    });
    await this.sink.send(rows);
    return { request_id: requestId, accepted: rows.length, results: rows.map((r, index) => ({ index, event_id: r.event_id, accepted: true })) };
  }
}
