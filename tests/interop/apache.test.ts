import { existsSync } from 'node:fs';
import { skipUnless } from './harness/process.ts';
import { type ApacheSettings, startApache } from './harness/servers.ts';
import { type InteropConfig, interopSuite } from './harness/suite.ts';

const modules = ['mod_http2', 'mod_lua', 'mod_ssl', 'mod_mpm_event'];
const installed =
  existsSync('/usr/sbin/apache2') && modules.every((m) => existsSync(`/usr/lib/apache2/modules/${m}.so`));

const defaults: ApacheSettings = { maxStreams: 100, window: 65535, maxRequests: 10_000 };
const configs: (InteropConfig & { settings: ApacheSettings })[] = [
  { name: 'defaults (100 streams, 64 KB window)', settings: defaults },
  { name: 'max concurrent streams 1', settings: { ...defaults, maxStreams: 1 } },
  {
    name: 'max concurrent streams 1000, window 2^31-1',
    settings: { ...defaults, maxStreams: 1000, window: 2 ** 31 - 1 },
    check: { target: { connections: 1, maxInFlightPerConnection: 1000 } },
  },
  { name: 'initial window 1 KB', settings: { ...defaults, window: 1024 } },
  // mod_http2 ends a connection with a graceful GOAWAY after MaxKeepAliveRequests streams.
  { name: 'GOAWAY after 50 requests per connection', settings: { ...defaults, maxRequests: 50 } },
];

interopSuite(
  'apache mod_http2',
  skipUnless('apache2 with mod_http2 and mod_lua', installed),
  configs,
  (work, config) => startApache(work, config.settings, configs.indexOf(config).toString()),
);
