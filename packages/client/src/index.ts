export * from './apps.ts';
export * from './client.ts';
export * from './live.ts';
export type * from './types.ts';
