export * from './apps.ts';
export * from './client.ts';
export type * from './types.ts';
