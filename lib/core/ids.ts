// Branded ids: an entity id can never be passed where an event id is expected.
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type EventId = Brand<string, 'EventId'>;
export type EntityId = Brand<string, 'EntityId'>;
export type MerchantId = Brand<string, 'MerchantId'>;

export const eventId = (s: string): EventId => s as EventId;
export const entityId = (s: string): EntityId => s as EntityId;
export const merchantId = (s: string): MerchantId => s as MerchantId;
