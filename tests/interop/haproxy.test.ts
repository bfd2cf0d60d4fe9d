import { findBinary, skipUnless } from './harness/process.ts';
import { type HaproxySettings, startHaproxy } from './harness/servers.ts';
import { type InteropConfig, interopSuite } from './harness/suite.ts';

// HAProxy 2.6 announces what its tune.h2.* settings say; it refuses a header table below 4096.
const defaults: HaproxySettings = {
  maxStreams: 100,
  window: 65535,
  headerTableSize: 4096,
  maxFrameSize: 16384,
};
const configs: (InteropConfig & { settings: HaproxySettings })[] = [
  { name: 'defaults (100 streams, 64 KB window)', settings: defaults },
  { name: 'max concurrent streams 1', settings: { ...defaults, maxStreams: 1 } },
  {
    name: 'max concurrent streams 1000',
    settings: { ...defaults, maxStreams: 1000 },
    check: { target: { connections: 1, maxInFlightPerConnection: 1000 }, count: 1000 },
  },
  { name: 'initial window 1 KB', settings: { ...defaults, window: 1024 } },
  { name: 'initial window 16 MB', settings: { ...defaults, window: 16 * 1024 * 1024 } },
  {
    name: 'header table 64 KB, max frame size 16 MB',
    settings: { ...defaults, headerTableSize: 65536, maxFrameSize: 16777215 },
  },
];

interopSuite('haproxy', skipUnless('haproxy', findBinary('haproxy') !== undefined), configs, (work, config) =>
  startHaproxy(work, config.settings, configs.indexOf(config).toString()),
);
