import { findBinary, skipUnless } from './harness/process.ts';
import { type NghttpdSettings, startNghttpd } from './harness/servers.ts';
import { type InteropConfig, interopSuite } from './harness/suite.ts';

// nghttpd takes its SETTINGS from flags; it cannot be scripted, so every answer is 200 without
// an apns-id (and with the request body echoed, which the transport must read and drop).
const configs: (InteropConfig & { settings: NghttpdSettings })[] = [
  { name: 'defaults (100 streams)', settings: {} },
  { name: 'max concurrent streams 1', settings: { maxStreams: 1 } },
  {
    name: 'max concurrent streams 1000',
    settings: { maxStreams: 1000 },
    check: { target: { connections: 1, maxInFlightPerConnection: 1000 }, count: 1000 },
  },
  {
    name: 'initial window 1 KB, connection window 4 KB',
    settings: { windowBits: 10, connectionWindowBits: 12 },
  },
  { name: 'initial window 1 GB', settings: { windowBits: 30, connectionWindowBits: 30 } },
  { name: 'header table size 0 both ways', settings: { headerTableSize: 0 } },
  { name: 'padded frames and a trailer', settings: { padding: 255, trailer: true } },
];

interopSuite('nghttpd', skipUnless('nghttpd', findBinary('nghttpd') !== undefined), configs, (work, config) =>
  startNghttpd(work, config.settings, configs.indexOf(config).toString()),
);
