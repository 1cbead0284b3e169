export * from './definitions';
export * from './engine';
export * from './state';
export * from './serialize';
export * from './drivers';
export { usdPerUnit, utcOffsetHours } from './reference-data';
