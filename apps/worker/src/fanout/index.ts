export * from './fanout-job.ts';
export * from './fanout-worker.ts';
