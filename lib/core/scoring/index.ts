export * from './request';
export * from './errors';
export * from './compatibility';
export * from './router';
export * from './scorer';
export * from './prediction-log';
