export * from './app-directory.ts';
export * from './load.ts';
export * from './schema.ts';
