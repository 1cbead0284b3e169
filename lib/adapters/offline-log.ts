// The stream's offline log over Firehose: raw events to the `events` delivery stream and
// committed feature vectors to `feature_log`, as Iceberg rows (lib/core/offline/tables.ts).
import type { EntityVector, OfflineLogPort, ReceivedEvent } from '../core/pipeline/ports';
import { EVENTS_TABLE, FEATURE_LOG_TABLE, type EventsRow, type FeatureLogRow } from '../core/offline/tables';
import { FirehoseSink, type PutRecordBatchClient } from './firehose-sink';

export interface FirehoseOfflineLogOptions {
  readonly client: PutRecordBatchClient;
  readonly eventsStream: string;
  readonly featureLogStream: string;
  /** `<name>.v<N>` of the engine's feature set: it names the order of `features`. */
  readonly featureSet: string;
  readonly now?: () => Date;
}

export class FirehoseOfflineLog implements OfflineLogPort {
  private readonly events: FirehoseSink<EventsRow>;
  private readonly features: FirehoseSink<FeatureLogRow>;
  private readonly now: () => Date;

  constructor(private readonly options: FirehoseOfflineLogOptions) {
    this.events = new FirehoseSink({ client: options.client, deliveryStreamName: options.eventsStream, table: EVENTS_TABLE });
    this.features = new FirehoseSink({ client: options.client, deliveryStreamName: options.featureLogStream, table: FEATURE_LOG_TABLE });
    this.now = options.now ?? (() => new Date());
  }

  async logEvents(received: readonly ReceivedEvent[]): Promise<void> {
    const receivedAt = this.now().toISOString();
    await this.events.send(
      received.map(({ event: e, data }) => ({
        event_id: e.event_id,
        entity_id: e.entity_id,
        merchant_id: e.merchant_id,
        amount: e.amount,
        currency: e.currency,
        mcc: e.mcc,
        country: e.country,
        channel: e.channel,
        event_time: e.event_time,
        received_at: receivedAt,
        raw: data,
      })),
    );
  }

  async logFeatures(vectors: readonly EntityVector[]): Promise<void> {
    const loggedAt = this.now().toISOString();
    await this.features.send(
      vectors.map((v) => ({
        event_id: v.eventId,
        entity_id: v.entityId,
        event_time: new Date(v.ts).toISOString(),
        feature_set: this.options.featureSet,
        features: v.values,
        late: v.late,
        logged_at: loggedAt,
      })),
    );
  }
}
