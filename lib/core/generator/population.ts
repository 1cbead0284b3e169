import { entityId, merchantId, type EntityId, type MerchantId } from '../ids';
import type { Channel } from '../schemas/event';
import { AliasTable } from './alias-table';
import type { Rng } from './prng';
import { CATEGORIES, COUNTRIES, cardNotPresentShare } from './reference-data';

// The cardholders and merchants of one workload, drawn once from the seed. Legitimate traffic
// and every fraud pattern draw their participants from here.

export interface Card {
  readonly id: EntityId;
  /** Index into COUNTRIES. */
  readonly country: number;
  /** Log-normal parameters of this cardholder's everyday ticket, in US dollars. */
  readonly mu: number;
  readonly sigma: number;
  /** Merchants this cardholder keeps returning to (indices into merchants), all at home. */
  readonly preferred: Int32Array;
}

export interface Merchant {
  readonly id: MerchantId;
  /** Index into COUNTRIES. */
  readonly country: number;
  /** Index into CATEGORIES. */
  readonly category: number;
}

/** A subset of merchants with popularity-weighted sampling. */
export class MerchantPool {
  private readonly table: AliasTable;

  constructor(
    private readonly members: Int32Array,
    popularity: Float64Array,
  ) {
    this.table = new AliasTable(Array.from(members, (m) => popularity[m]!));
  }

  get size(): number {
    return this.members.length;
  }

  sample(rng: Rng): number {
    return this.members[this.table.sample(rng)]!;
  }
}

export interface Population {
  readonly cards: readonly Card[];
  readonly merchants: readonly Merchant[];
  /** Cards weighted by how often they pay: heavy users appear more often. */
  readonly cardsByActivity: AliasTable;
  readonly allMerchants: MerchantPool;
  readonly merchantsByCountry: readonly MerchantPool[];
  /** Per country, the categories where stolen value is cashed out; falls back to all merchants. */
  readonly highValueByCountry: readonly MerchantPool[];
  /** Low-ticket merchants that mostly take card-not-present payments: where stolen numbers are tried. */
  readonly lowTicketOnline: MerchantPool;
  /** Per category, a table over its channels. */
  readonly channelTables: readonly { readonly channels: readonly Channel[]; readonly table: AliasTable }[];
}

const padded = (prefix: string, n: number, width: number): string => `${prefix}${String(n).padStart(width, '0')}`;

function pool(indices: number[], popularity: Float64Array, fallback: () => MerchantPool): MerchantPool {
  return indices.length > 0 ? new MerchantPool(Int32Array.from(indices), popularity) : fallback();
}

export function createPopulation(rng: Rng, cardCount: number, merchantCount: number): Population {
  const countryTable = new AliasTable(COUNTRIES.map((c) => c.weight));
  const categoryTable = new AliasTable(CATEGORIES.map((c) => c.weight));

  const merchantWidth = Math.max(5, String(merchantCount).length);
  const merchants: Merchant[] = [];
  const popularity = new Float64Array(merchantCount);
  for (let i = 0; i < merchantCount; i++) {
    // The first merchants cover every country once, so a takeover abroad always finds a shop.
    const country = i < COUNTRIES.length ? i : countryTable.sample(rng);
    merchants.push({ id: merchantId(padded('mer_', i + 1, merchantWidth)), country, category: categoryTable.sample(rng) });
    popularity[i] = rng.logNormal(0, 1.1);
  }

  const all = Int32Array.from(merchants.keys());
  const allMerchants = new MerchantPool(all, popularity);
  const byCountry: number[][] = COUNTRIES.map(() => []);
  const highValue: number[][] = COUNTRIES.map(() => []);
  const lowTicketOnline: number[] = [];
  merchants.forEach((m, i) => {
    const category = CATEGORIES[m.category]!;
    byCountry[m.country]!.push(i);
    if (category.highValue) highValue[m.country]!.push(i);
    if (cardNotPresentShare(category) >= 0.5 && category.amountFactor <= 1.2) lowTicketOnline.push(i);
  });
  const merchantsByCountry = byCountry.map((list) => pool(list, popularity, () => allMerchants));
  const highValueByCountry = highValue.map((list, c) => pool(list, popularity, () => merchantsByCountry[c]!));

  const cardWidth = Math.max(6, String(cardCount).length);
  const cards: Card[] = [];
  const activity = new Float64Array(cardCount);
  for (let i = 0; i < cardCount; i++) {
    const country = countryTable.sample(rng);
    const home = merchantsByCountry[country]!;
    const preferred = new Int32Array(rng.intBetween(3, 10));
    for (let k = 0; k < preferred.length; k++) preferred[k] = home.sample(rng);
    cards.push({
      id: entityId(padded('card_', i + 1, cardWidth)),
      country,
      // A typical ticket of about 30 USD, some cardholders spending several times more.
      mu: Math.log(30) + 0.45 * rng.normal(),
      sigma: rng.uniform(0.5, 1.0),
      preferred,
    });
    activity[i] = rng.logNormal(0, 0.9);
  }

  return {
    cards,
    merchants,
    cardsByActivity: new AliasTable(activity),
    allMerchants,
    merchantsByCountry,
    highValueByCountry,
    lowTicketOnline: pool(lowTicketOnline, popularity, () => allMerchants),
    channelTables: CATEGORIES.map((c) => ({ channels: c.channels.map(([ch]) => ch), table: new AliasTable(c.channels.map(([, w]) => w)) })),
  };
}

export function sampleChannel(population: Population, category: number, rng: Rng): Channel {
  const entry = population.channelTables[category]!;
  return entry.channels[entry.table.sample(rng)]!;
}
