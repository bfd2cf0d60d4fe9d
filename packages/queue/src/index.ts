export * from './connection.ts';
export * from './names.ts';
export * from './producer.ts';
