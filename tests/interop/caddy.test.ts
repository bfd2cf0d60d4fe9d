import { findBinary, skipUnless } from './harness/process.ts';
import { startCaddy } from './harness/servers.ts';
import { type InteropConfig, interopSuite } from './harness/suite.ts';

// Caddy 2.6 exposes none of Go's HTTP/2 settings (250 streams, 1 MB windows); the TLS version varies.
const configs: (InteropConfig & { tls: 'tls1.2' | 'tls1.3' })[] = [
  { name: 'TLS 1.3', tls: 'tls1.3' },
  { name: 'TLS 1.2', tls: 'tls1.2' },
];

interopSuite('caddy', skipUnless('caddy', findBinary('caddy') !== undefined), configs, (work, config) =>
  startCaddy(work, config.tls, configs.indexOf(config).toString()),
);
