export * from './keys.ts';
export * from './notification-status.ts';
