import { pythonHas, skipUnless } from './harness/process.ts';
import { type HypercornSettings, startHypercorn } from './harness/servers.ts';
import { type InteropConfig, interopSuite } from './harness/suite.ts';

const configs: (InteropConfig & { settings: HypercornSettings })[] = [
  { name: 'defaults (100 streams)', settings: { maxStreams: 100, maxFrameSize: 16384 } },
  {
    name: 'max concurrent streams 1',
    settings: { maxStreams: 1, maxFrameSize: 16384 },
    // Hypercorn answers one stream per ~45 ms here (its HEADERS and DATA writes meet Nagle and
    // delayed ACKs), so the pool spreads the 300 over six connections.
    check: { target: { connections: 6 } },
  },
  {
    name: 'max concurrent streams 1000, max frame size 16 MB',
    settings: { maxStreams: 1000, maxFrameSize: 16777215 },
    check: { target: { connections: 1, maxInFlightPerConnection: 1000 } },
  },
];

interopSuite(
  'hypercorn',
  skipUnless('python3-hypercorn (for /usr/bin/python3)', pythonHas('hypercorn')),
  configs,
  (work, config) => startHypercorn(work, config.settings, configs.indexOf(config).toString()),
);
