export { type BroadcastReason, broadcastReasonStatus } from './broadcast-reasons.ts';
export { type BroadcastRecord, CHANNEL_LIMIT, type Channel, type StoragePolicy } from './channels.ts';
export { parseArgs } from './config.ts';
export type { Delivery } from './deliveries.ts';
export type { FaultSpec, FaultTarget } from './faults.ts';
export { type Reason, reasonStatus } from './reasons.ts';
export { type RunningSimulator, type SimulatorOptions, startSimulator } from './start-simulator.ts';
export { createClientCertificate, readClientCertificate } from './tls-material.ts';
