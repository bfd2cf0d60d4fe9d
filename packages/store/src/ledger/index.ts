import type { Redis } from 'ioredis';
import { ledgerRetentionSeconds } from '../keys.ts';
import { defineScripts } from '../scripts.ts';
import { BatchLedger } from './batches.ts';
import { FanoutLedger } from './fanout.ts';
import { RecordLedger } from './records.ts';

export * from './batches.ts';
export * from './fanout.ts';
export * from './fields.ts';
export * from './keys.ts';
export * from './records.ts';
export * from './status.ts';

/**
 * The delivery ledger: the one owner of every notification's and campaign's Redis record. Records
 * are created with their jobs in one transaction (`records`), each batch step is counted exactly
 * once with the batch's checkpoint (`batches`), and a fan-out's cursor moves with the batches it
 * adds (`fanout`). Nothing else writes these keys.
 */
export class Ledger {
  readonly records: RecordLedger;
  readonly batches: BatchLedger;
  readonly fanout: FanoutLedger;

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    retentionSeconds = ledgerRetentionSeconds,
  ) {
    // Transactions built from this client later must be able to stage the ledger's scripts.
    defineScripts(redis);
    this.records = new RecordLedger(redis, prefix, retentionSeconds);
    this.batches = new BatchLedger(redis, prefix, retentionSeconds);
    this.fanout = new FanoutLedger(redis, prefix, retentionSeconds);
  }
}
