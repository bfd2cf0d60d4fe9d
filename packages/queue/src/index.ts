export * from './campaign-job.ts';
export * from './connection.ts';
export * from './direct-producer.ts';
export * from './names.ts';
export * from './producer.ts';
export * from './queue-metrics.ts';
export * from './redis-topology.ts';
export * from './requests.ts';
