import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { bodyLength, type DeliveryCheck, devicePaths } from './check.ts';
import { findBinary, type ServerProcess, startServer, systemPython } from './process.ts';
import { freePort, peersDir, type Workdir } from './workdir.ts';

/** A started server and what the delivery check may expect of it. */
export interface InteropServer extends ServerProcess {
  /** apns-id, error answers and the server's own log of request paths, where it has them. */
  expect: Pick<DeliveryCheck, 'apnsId' | 'errors' | 'serverSaw' | 'verify'>;
}

function logged(file: string): () => string[] {
  return () => {
    try {
      return devicePaths(readFileSync(file, 'utf8'));
    } catch {
      return [];
    }
  };
}

/** Run as root, Apache and h2o serve as this user; its files in the work dir are world-readable. */
const asRoot = process.getuid?.() === 0;

export interface NghttpdSettings {
  maxStreams?: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE = 2^bits - 1, and the connection window. */
  windowBits?: number;
  connectionWindowBits?: number;
  headerTableSize?: number;
  /** Pads every DATA and HEADERS frame it sends to this many bytes of padding. */
  padding?: number;
  /** Ends each response with a trailer field. */
  trailer?: boolean;
}

/** nghttpd: nghttp2's C server; `--echo-upload` answers a POST 200 with its body. Not scriptable. */
export async function startNghttpd(work: Workdir, s: NghttpdSettings, label: string): Promise<InteropServer> {
  const port = await freePort();
  const args = ['--echo-upload', '-a', '127.0.0.1', '-d', work.dir];
  if (s.maxStreams !== undefined) args.push('-m', String(s.maxStreams));
  if (s.windowBits !== undefined) args.push('-w', String(s.windowBits));
  if (s.connectionWindowBits !== undefined) args.push('-W', String(s.connectionWindowBits));
  if (s.headerTableSize !== undefined) {
    args.push('-c', String(s.headerTableSize), `--encoder-header-table-size=${s.headerTableSize}`);
  }
  if (s.padding !== undefined) args.push('-b', String(s.padding));
  if (s.trailer) args.push('--trailer', 'x-interop-trailer: done');
  args.push(String(port), work.keyFile, work.certFile);
  const server = await startServer({
    name: `nghttpd ${label}`,
    command: findBinary('nghttpd')!,
    args,
    port,
    cwd: work.dir,
    logFile: work.path(`nghttpd-${label}.log`),
  });
  return { ...server, expect: { apnsId: 'absent', errors: false } };
}

/** h2o with its mruby handler; `maxStreams` is http2-max-concurrent-requests-per-connection. */
export async function startH2o(work: Workdir, maxStreams: number, label: string): Promise<InteropServer> {
  const port = await freePort();
  const accessLog = work.path(`h2o-${label}-access.log`);
  const handler = work.render('h2o-apns.rb', `h2o-${label}.rb`, { BODY_LEN: bodyLength });
  const config = work.render('h2o.yaml', `h2o-${label}.yaml`, {
    PORT: port,
    CERT: work.certFile,
    KEY: work.keyFile,
    MAX_STREAMS: maxStreams,
    ACCESS_LOG: accessLog,
    HANDLER: handler,
  });
  const server = await startServer({
    name: `h2o ${label}`,
    command: findBinary('h2o')!,
    args: ['-c', config],
    port,
    cwd: work.dir,
    logFile: work.path(`h2o-${label}.log`),
  });
  return { ...server, expect: { apnsId: 'uuid', errors: true, serverSaw: logged(accessLog) } };
}

/** Caddy (Go's HTTP/2 server) with `respond`; `tls` pins the TLS version. */
export async function startCaddy(
  work: Workdir,
  tls: 'tls1.2' | 'tls1.3',
  label: string,
): Promise<InteropServer> {
  const port = await freePort();
  const accessLog = work.path(`caddy-${label}-access.log`);
  const config = work.render('Caddyfile', `Caddyfile-${label}`, {
    PORT: port,
    CERT: work.certFile,
    KEY: work.keyFile,
    TLS_VERSION: tls,
    ACCESS_LOG: accessLog,
  });
  // Caddy keeps state under HOME / XDG dirs: the work dir, never the developer's.
  const home = work.dir;
  const server = await startServer({
    name: `caddy ${label}`,
    command: findBinary('caddy')!,
    args: ['run', '--config', config, '--adapter', 'caddyfile'],
    port,
    cwd: work.dir,
    env: { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home },
    logFile: work.path(`caddy-${label}.log`),
  });
  return { ...server, expect: { apnsId: 'uuid', errors: true, serverSaw: logged(accessLog) } };
}

export interface ApacheSettings {
  maxStreams: number;
  /** H2WindowSize: the stream window Apache announces. */
  window: number;
  /** MaxKeepAliveRequests: mod_http2 ends a connection with GOAWAY after this many requests. */
  maxRequests: number;
}

/** Apache httpd with mod_http2 (mpm_event) and a mod_lua handler. */
export async function startApache(work: Workdir, s: ApacheSettings, label: string): Promise<InteropServer> {
  const port = await freePort();
  const accessLog = work.path(`apache-${label}-access.log`);
  const handler = work.render('apache-apns.lua', `apache-${label}.lua`, {});
  const dir = work.path(`apache-${label}`);
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  const config = work.render('apache2.conf', `apache-${label}.conf`, {
    PORT: port,
    CERT: work.certFile,
    KEY: work.keyFile,
    DIR: dir,
    USER: asRoot ? 'User nobody\nGroup nogroup' : '',
    MAX_STREAMS: s.maxStreams,
    WINDOW: s.window,
    MAX_REQUESTS: s.maxRequests,
    ACCESS_LOG: accessLog,
    HANDLER: handler,
  });
  const server = await startServer({
    name: `apache ${label}`,
    command: '/usr/sbin/apache2',
    args: ['-f', config, '-DFOREGROUND'],
    port,
    cwd: work.dir,
    logFile: work.path(`apache-${label}.log`),
  });
  return { ...server, expect: { apnsId: 'unique', errors: true, serverSaw: logged(accessLog) } };
}

export interface HaproxySettings {
  maxStreams: number;
  window: number;
  /** 4096…65536: HAProxy refuses a smaller dynamic table. */
  headerTableSize: number;
  maxFrameSize: number;
}

/** HAProxy answering on its own (`http-request return`), no backend. Logs each request to stdout. */
export async function startHaproxy(work: Workdir, s: HaproxySettings, label: string): Promise<InteropServer> {
  const port = await freePort();
  const config = work.render('haproxy.cfg', `haproxy-${label}.cfg`, {
    PORT: port,
    BUNDLE: work.bundleFile,
    MAX_STREAMS: s.maxStreams,
    WINDOW: s.window,
    HEADER_TABLE: s.headerTableSize,
    MAX_FRAME: s.maxFrameSize,
    BODY_LEN: bodyLength,
  });
  const server = await startServer({
    name: `haproxy ${label}`,
    command: findBinary('haproxy')!,
    args: ['-db', '-f', config],
    port,
    cwd: work.dir,
    logFile: work.path(`haproxy-${label}.log`),
  });
  // No serverSaw: HAProxy writes its log lines without blocking and drops some when busy (seen
  // in CI: 5 of a run's lines missing while each of those requests had its own answer). Each
  // answer's apns-id is a fresh uuid from HAProxy itself, so every accepted token was answered
  // by the server, once per answer.
  return { ...server, expect: { apnsId: 'uuid', errors: true } };
}

export interface HypercornSettings {
  maxStreams: number;
  maxFrameSize: number;
}

/** Hypercorn (python-h2 underneath) serving an ASGI app. Logs each request to stdout. */
export async function startHypercorn(
  work: Workdir,
  s: HypercornSettings,
  label: string,
): Promise<InteropServer> {
  const port = await freePort();
  const config = work.render('hypercorn.toml', `hypercorn-${label}.toml`, {
    PORT: port,
    CERT: work.certFile,
    KEY: work.keyFile,
    MAX_STREAMS: s.maxStreams,
    MAX_FRAME: s.maxFrameSize,
  });
  const server = await startServer({
    name: `hypercorn ${label}`,
    command: systemPython,
    args: ['-m', 'hypercorn', '--config', config, 'hypercorn_apns:app'],
    port,
    cwd: work.dir,
    env: {
      ...process.env,
      PYTHONPATH: peersDir,
      PYTHONDONTWRITEBYTECODE: '1',
      INTEROP_BODY_LEN: String(bodyLength),
    },
    logFile: work.path(`hypercorn-${label}.log`),
  });
  return {
    ...server,
    expect: { apnsId: 'uuid', errors: true, serverSaw: () => devicePaths(server.output()) },
  };
}
