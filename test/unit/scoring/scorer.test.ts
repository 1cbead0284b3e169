import { describe, expect, it } from 'vitest';
import { IncrementalDriver, MINUTE_MS, runBatch, serializeCard, serializeMerchant } from '../../../lib/core/features';
import { ResourceError, ValidationError } from '../../../lib/core/errors';
import type { StoredEntity } from '../../../lib/core/pipeline/ports';
import { entityKeysFor, parseScoreBody, parseScoreRequest, Scorer, errorAnswer, TierNotDeployedError, ModelUnavailableError, type EntityItems } from '../../../lib/core/scoring';
import { ModelRouter } from '../../../lib/core/scoring/router';
import { assertServable } from '../../../lib/core/scoring/compatibility';
import { ev } from '../../support/events';
import { FakeModel, FakeRuntime, engine, manifest } from './fakes';

const T0 = Date.parse('2026-03-02T12:00:00.000Z');
const scorer = new Scorer(engine);
const served = (probability: number, contributions?: (row: Float32Array) => Float64Array) => ({
  manifest: manifest('7', { threshold: 0.6 }),
  model: new FakeModel('7', engine.names.length, probability, contributions),
});

const history = [
  ev({ at: T0, amount: 12, merchant_id: 'mer_a' }),
  ev({ at: T0 + 5 * MINUTE_MS, amount: 30, merchant_id: 'mer_b' }),
  ev({ at: T0 + 60 * MINUTE_MS, amount: 8, merchant_id: 'mer_a', country: 'FR' }),
  ev({ at: T0 + 2 * 60 * MINUTE_MS, amount: 5, merchant_id: 'mer_a', entity_id: 'card_other' }),
];
const request = ev({ at: T0 + 3 * 60 * MINUTE_MS, amount: 400, merchant_id: 'mer_a', country: 'FR', channel: 'ecom' });

/** The online-store items the stream would have written after `history`. */
function itemsAfter(events: typeof history): EntityItems {
  const d = new IncrementalDriver(engine);
  for (const e of events) d.ingest(e);
  const card = d.cards.get(request.entity_id);
  const merchant = d.merchants.get(request.merchant_id);
  const item = (pk: string, kind: 'card' | 'merchant', state: string): StoredEntity => ({ pk, kind, state, version: 1 });
  const keys = entityKeysFor(request);
  return {
    card: card && item(keys.card, 'card', serializeCard(engine, card)),
    merchant: merchant && item(keys.merchant, 'merchant', serializeMerchant(engine, merchant)),
  };
}

describe('score request', () => {
  const body = { model: 'card-fraud', event: { event_id: 'e1', entity_id: 'c1', merchant_id: 'm1', amount: 10, currency: 'USD', mcc: 5411, country: 'US', channel: 'pos', event_time: '2026-03-02T12:00:00Z' } };

  it('parses a valid body and computes the event time once', () => {
    const r = parseScoreBody(JSON.stringify(body));
    expect(r.ok && r.value.event.ts).toBe(Date.parse('2026-03-02T12:00:00Z'));
    expect(r.ok && r.value.model).toBe('card-fraud');
    const noModel = parseScoreRequest({ event: body.event });
    expect(noModel.ok && 'model' in noModel.value).toBe(false);
  });

  it.each([
    [{ ...body, event: { ...body.event, amount: -1 } }, 'event.amount'],
    [{ ...body, event: { ...body.event, extra: 1 } }, 'event'],
    [{ ...body, event: { ...body.event, event_time: '2026-03-02 12:00' } }, 'event.event_time'],
    [{ ...body, model: 'Card Fraud' }, 'model'],
    [{ ...body, colour: 'red' }, '(root)'],
    [{ model: 'card-fraud' }, 'event'],
  ])('names the field at fault: %j → %s', (input, field) => {
    const r = parseScoreRequest(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toBeInstanceOf(ValidationError);
      expect(r.error.field).toBe(field);
    }
  });

  it('refuses a missing or non-JSON body as field `body`', () => {
    for (const text of [null, '', '{"event":']) {
      const r = parseScoreBody(text);
      expect(!r.ok && r.error.field).toBe('body');
    }
  });
});

describe('Scorer', () => {
  it('computes exactly the vector the stream logs for the event, from the stored states', () => {
    const items = itemsAfter(history);
    const row = scorer.features(request, items);
    const batch = runBatch(engine, [...history, request]);
    const logged = batch.vectors.find((x) => x.eventId === request.event_id)!;
    expect(row.values).toEqual(logged.values);
    expect(row.coldStart).toBe(false);
    // The newest event in the card's state is history[2], two hours before the request.
    expect(row.stateAgeSeconds).toBe(2 * 3600);
  });

  it('gives an unknown card and merchant the features of a first event, not an error', async () => {
    const answer = await scorer.score({ requestId: 'r1', event: request, items: {} }, served(0.2));
    const first = runBatch(engine, [request]).vectors[0]!.values;
    expect(scorer.features(request, {}).values).toEqual(first);
    expect(answer).toMatchObject({ request_id: 'r1', cold_start: true, entity_state_age_seconds: null, flagged: false, threshold: 0.6 });
  });

  it('answers score, decision against the manifest threshold, model version and feature set', async () => {
    const answer = await scorer.score({ requestId: 'r2', event: request, items: itemsAfter(history) }, served(0.75));
    expect(answer).toEqual({
      request_id: 'r2',
      model: { name: 'card-fraud', version: '7', tier: 'cpu' },
      score: 0.75,
      flagged: true,
      threshold: 0.6,
      reasons: [],
      entity_state_age_seconds: 7200,
      cold_start: false,
      feature_set: 'card_fraud.v1',
    });
    const atThreshold = await scorer.score({ requestId: 'r3', event: request, items: {} }, served(Math.fround(0.6)));
    expect(atThreshold.flagged).toBe(Math.fround(0.6) >= 0.6);
  });

  it('gives the three features that pushed the score up most as reasons, with their values', async () => {
    const amountIdx = engine.names.indexOf('amount_usd');
    const foreignIdx = engine.names.indexOf('card_foreign_country');
    const countIdx = engine.names.indexOf('card_txn_count_24h');
    const contributions = () => {
      const c = new Float64Array(engine.names.length).fill(0.01);
      c[amountIdx] = 1.5;
      c[foreignIdx] = -0.9;
      c[countIdx] = 0.3;
      return c;
    };
    const answer = await scorer.score({ requestId: 'r4', event: request, items: itemsAfter(history) }, served(0.9, contributions));
    // card_foreign_country pulled the score down: a risk reason never names it. The third slot
    // goes to the first of the features tied at 0.01, in column order.
    expect(answer.reasons).toEqual([
      { feature: 'amount_usd', value: 400, contribution: 1.5 },
      { feature: 'card_txn_count_24h', value: 3, contribution: 0.3 },
      { feature: engine.names.find((_, i) => i !== amountIdx && i !== foreignIdx && i !== countIdx)!, value: expect.any(Number), contribution: 0.01 },
    ]);
  });

  it('scores a batch in one model call with the same answers as one by one', async () => {
    const s = served(0.4);
    const inputs = [
      { requestId: 'a', event: request, items: itemsAfter(history) },
      { requestId: 'b', event: request, items: {} },
    ];
    const batch = await scorer.scoreBatch(inputs, s);
    expect(s.model.scored).toBe(2);
    for (const [i, input] of inputs.entries()) expect(batch[i]).toEqual(await scorer.score(input, s));
  });

  it('scores one request as scoreDetailed does, with the vector it scored', async () => {
    const contributions = (row: Float32Array) => Float64Array.from(row, (v, i) => (Number.isNaN(v) ? 0 : (i % 3) - 1) * 0.1);
    const s = served(0.8, contributions);
    const input = { requestId: 'r6', event: request, items: itemsAfter(history) };
    const one = await scorer.scoreOne(input, s);
    const [detailed] = await scorer.scoreDetailed([{ ...input, items: itemsAfter(history) }], s);
    expect(one).toEqual(detailed);
    expect(one.features).toEqual(scorer.features(request, itemsAfter(history)).values);
    expect(one.answer.reasons.length).toBeGreaterThan(0);
  });

  it('treats an unreadable stored state as the platform’s failure, not the client’s', async () => {
    const items = itemsAfter(history);
    const broken: EntityItems = { ...items, card: { ...items.card!, state: '{"v":1,"fs":"card_fraud.v0"}' } };
    const error = await scorer.score({ requestId: 'r5', event: request, items: broken }, served(0.1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceError);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect((error as ResourceError).resource).toBe('card#card_1');
    expect(errorAnswer(error, 'r5').status).toBe(500);
  });
});

describe('router and compatibility', () => {
  it('routes cpu to the in-process runtime and refuses any other tier by name', () => {
    const runtime = new FakeRuntime();
    const router = new ModelRouter({ cpu: runtime });
    expect(router.runtimeFor(manifest('1'))).toBe(runtime);
    expect(() => router.runtimeFor(manifest('1', { tier: 'gpu-small' }))).toThrow(/tier 'gpu-small', which is not deployed here \(deployed: cpu\)/);
    try {
      router.runtimeFor(manifest('1', { tier: 'gpu-small' }));
    } catch (e) {
      expect(e).toBeInstanceOf(TierNotDeployedError);
      expect((e as TierNotDeployedError).code).toBe('tier_not_deployed');
    }
  });

  it('accepts the engine’s own feature list and refuses a shorter one', () => {
    expect(() => assertServable(manifest('1'), engine)).not.toThrow();
    expect(() => assertServable(manifest('1', { features: engine.names.slice(0, -1) }), engine)).toThrow(/feature 24 is \(none\)/);
  });
});

describe('errorAnswer', () => {
  it('answers 400 naming the field for bad input', () => {
    expect(errorAnswer(new ValidationError('event.amount: too small', 'event.amount'), 'req-1')).toEqual({
      status: 400,
      clientError: true,
      body: { error: { code: 'validation_error', message: 'event.amount: too small', field: 'event.amount', request_id: 'req-1' } },
    });
  });

  it('answers 501 tier_not_deployed naming the tier', () => {
    const a = errorAnswer(new TierNotDeployedError('card-fraud', '3', 'gpu-small', ['cpu']), 'req-2');
    expect(a.status).toBe(501);
    expect(a.body.error).toMatchObject({ code: 'tier_not_deployed', field: 'model' });
    expect(a.body.error.message).toContain('gpu-small');
  });

  it('keeps internals out of 5xx answers', () => {
    const secret = 'arn:aws:s3:::fathom-models-123/models/card-fraud/3/model.onnx AccessDenied at Object.<anonymous> (/var/task/index.mjs:1:2)';
    for (const error of [new Error(secret), new ResourceError(secret, 'arn:aws:dynamodb:eu-west-1:1:table/x', true), new ModelUnavailableError('card-fraud', '3', new Error(secret))]) {
      const a = errorAnswer(error, 'req-3');
      expect(a.status).toBeGreaterThanOrEqual(500);
      expect(JSON.stringify(a.body)).not.toMatch(/arn:|\/var\/task|AccessDenied/);
      expect(a.body.error.request_id).toBe('req-3');
    }
  });
});
