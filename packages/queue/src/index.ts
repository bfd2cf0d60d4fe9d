export * from './app-queues.ts';
export * from './connection.ts';
export * from './direct-producer.ts';
export * from './job-backoff.ts';
export * from './names.ts';
export * from './queue-metrics.ts';
export * from './redis-topology.ts';
export * from './settle.ts';
