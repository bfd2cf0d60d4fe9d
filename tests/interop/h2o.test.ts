import { findBinary, skipUnless } from './harness/process.ts';
import { startH2o } from './harness/servers.ts';
import { type InteropConfig, interopSuite } from './harness/suite.ts';

// h2o 2.2 makes only its stream limit configurable (http2-max-concurrent-requests-per-connection).
const configs: (InteropConfig & { maxStreams: number })[] = [
  { name: 'max concurrent streams 100', maxStreams: 100 },
  { name: 'max concurrent streams 1', maxStreams: 1 },
  {
    name: 'max concurrent streams 1000',
    maxStreams: 1000,
    check: { target: { connections: 1, maxInFlightPerConnection: 1000 }, count: 1000 },
  },
];

interopSuite('h2o', skipUnless('h2o', findBinary('h2o') !== undefined), configs, (work, config) =>
  startH2o(work, config.maxStreams, configs.indexOf(config).toString()),
);
