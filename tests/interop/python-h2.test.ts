import { type PeerSettings, startPeer } from './harness/h2-peer.ts';
import { pythonHas, skipUnless } from './harness/process.ts';
import { type InteropConfig, interopSuite } from './harness/suite.ts';

// python-h2 lets every SETTINGS value be chosen, including those the C servers do not expose. It
// also checks the client: any protocol violation python-h2 detects fails the test (see verify).
const configs: (InteropConfig & { settings: PeerSettings })[] = [
  { name: 'defaults, answers after 2 ms', settings: { delayMs: 2 } },
  { name: 'max concurrent streams 1', settings: { maxStreams: 1 } },
  {
    name: 'max concurrent streams 1000',
    settings: { maxStreams: 1000, delayMs: 5 },
    check: { target: { connections: 1, maxInFlightPerConnection: 1000 } },
  },
  { name: 'initial window 256 bytes', settings: { initialWindow: 256 } },
  {
    name: 'stream and connection windows 2^31-1',
    settings: { initialWindow: 2 ** 31 - 1, connWindow: 2 ** 31 - 1 },
  },
  { name: 'header table size 0', settings: { headerTableSize: 0 } },
  { name: 'max frame size 2^24-1', settings: { maxFrameSize: 2 ** 24 - 1 } },
];

interopSuite(
  'python-h2',
  skipUnless('python3-h2 (for /usr/bin/python3)', pythonHas('h2')),
  configs,
  (work, config) => startPeer(work, config.settings, `settings-${configs.indexOf(config)}`),
);
