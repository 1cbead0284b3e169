// Served predictions to the offline store's `predictions` table through its Firehose delivery
// stream. A request waits on this call, so the resend budget is a scoring one (tens of
// milliseconds), not the stream's (seconds): a row still refused after it is the handler's to
// report (ScoringService.onPredictionNotLogged).
import type { PredictionsRow } from '../../core/offline/tables';
import { PREDICTIONS_TABLE } from '../../core/offline/tables';
import type { PredictionLogPort } from '../../core/scoring/prediction-log';
import { FirehoseSink, type PutRecordBatchClient } from '../firehose-sink';

export interface FirehosePredictionLogOptions {
  readonly client: PutRecordBatchClient;
  readonly deliveryStreamName: string;
  /** Calls per row, the first included. Default 3. */
  readonly maxAttempts?: number;
  /** Default 10 ms (then up to 20, capped at maxDelayMs). */
  readonly baseDelayMs?: number;
  /** Default 50 ms. */
  readonly maxDelayMs?: number;
}

export class FirehosePredictionLog implements PredictionLogPort {
  private readonly sink: FirehoseSink<PredictionsRow>;

  constructor(options: FirehosePredictionLogOptions) {
    this.sink = new FirehoseSink({
      client: options.client,
      deliveryStreamName: options.deliveryStreamName,
      table: PREDICTIONS_TABLE,
      maxAttempts: options.maxAttempts ?? 3,
      baseDelayMs: options.baseDelayMs ?? 10,
      maxDelayMs: options.maxDelayMs ?? 50,
    });
  }

  async log(rows: readonly PredictionsRow[]): Promise<void> {
    await this.sink.send(rows);
  }
}
