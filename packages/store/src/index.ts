export * from './keys.ts';
export * from './notification-status.ts';
export * from './outcome-recorder.ts';
export * from './app-state.ts';
export * from './rate-limiter.ts';
