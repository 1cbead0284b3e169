// Payloads that are not valid events, one of each way a producer gets it wrong, to show that the
// feature transform dead-letters them with a reason and carries on with their neighbours.

const TEMPLATE = {
  entity_id: 'card_bad',
  merchant_id: 'mer_bad',
  amount: 12.5,
  currency: 'USD',
  mcc: 5411,
  country: 'US',
  channel: 'pos',
  event_time: '2026-01-01T12:00:00Z',
};

type Spoil = (id: string) => string;

const SPOILERS: readonly Spoil[] = [
  (id) => `{"event_id":"${id}","amount":`, // truncated JSON
  (id) => JSON.stringify({ ...TEMPLATE, event_id: id, entity_id: undefined }), // missing entity_id
  (id) => JSON.stringify({ ...TEMPLATE, event_id: id, amount: '12.50' }), // amount as a string
  (id) => JSON.stringify({ ...TEMPLATE, event_id: id, currency: 'usd' }), // not an ISO 4217 code
  (id) => JSON.stringify({ ...TEMPLATE, event_id: id, event_time: 'yesterday' }), // not a timestamp
  (id) => JSON.stringify({ ...TEMPLATE, event_id: id, amount: -3 }), // negative amount
  () => JSON.stringify(['not', 'an', 'object']),
];

/** `count` malformed payloads, cycling through the kinds above; ids `bad_000001` upwards. */
export function malformedPayloads(count: number): string[] {
  return Array.from({ length: count }, (_, i) => SPOILERS[i % SPOILERS.length]!(`bad_${String(i + 1).padStart(6, '0')}`));
}
