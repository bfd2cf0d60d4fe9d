import { globalSpace } from './ledger/keys.ts';

/**
 * The app registry's keys, in the global space (they belong to no single app): apps added at
 * run time, their sealed credentials, the registry version every change bumps, the KEK check
 * value, and the channel change messages go out on.
 */
export const registryKeys = {
  /** Hash: app id → the app's public record (JSON, no key material; see `RegistryRecord`). */
  apps: (prefix: string) => `${globalSpace(prefix)}:registry:apps`,
  /** Hash: app id → its credential material, sealed (an `Envelope`, JSON). Read only to send. */
  secrets: (prefix: string) => `${globalSpace(prefix)}:registry:secrets`,
  /** Counter: bumped by every change (INCR); processes poll it as the backstop of the channel. */
  version: (prefix: string) => `${globalSpace(prefix)}:registry:version`,
  /** A known text sealed under the KEK: a process with another KEK refuses to start. */
  kekCheck: (prefix: string) => `${globalSpace(prefix)}:registry:kek-check`,
  /** Pub/sub channel: `{"version":n,"ids":[app]}` after each change. */
  changes: (prefix: string) => `${globalSpace(prefix)}:registry:changes`,
};
