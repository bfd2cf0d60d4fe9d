export * from './app-process.ts';
export * from './free-port.ts';
export * from './keys.ts';
export * from './redis.ts';
export * from './simulator.ts';
export * from './stack.ts';
export * from './stack-api.ts';
export * from './wait-for.ts';
