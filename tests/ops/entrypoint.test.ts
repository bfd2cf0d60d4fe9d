/**
 * The image's entrypoint logic (scripts/ops/entrypoint.sh + healthcheck.mjs), run outside Docker:
 * every command starts the right process, which answers /healthz, passes the image HEALTHCHECK and
 * stops cleanly on SIGTERM. The simulator runs with the compose demo's generated TLS material and
 * the stack with the compose demo's config shape, so this also checks the demo wiring end to end.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { configSchema } from '@pushfleet/config';
import { freePort, type StartedRedis, startRedis, waitFor } from '@pushfleet/testkit';
import { parse as parseYaml } from 'yaml';
import { writeDemoMaterial } from '../../scripts/ops/demo-init.ts';
import { prepareSimulator, sendBatch } from '../../scripts/ops/demo-traffic.ts';
import { root } from './tools.ts';

const entrypoint = join(root, 'scripts/ops/entrypoint.sh');

interface Started {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `entrypoint.sh <args>` from another directory, as a container's main process would be. */
function start(args: string[], env: Record<string, string>): Started {
  const child = spawn('sh', [entrypoint, ...args], {
    cwd: tmpdir(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err = (err + chunk).slice(-4000);
  });
  child.stdout?.resume();
  return {
    child,
    stderr: () => err,
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
}

function healthcheck(pid: number | undefined, env: Record<string, string> = {}) {
  return spawnSync('sh', [entrypoint, 'healthcheck', '--pid', String(pid)], {
    cwd: tmpdir(),
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
}

async function healthy(port: number, proc: Started): Promise<void> {
  await waitFor(
    `/healthz on ${port}`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`exited ${proc.child.exitCode}:\n${proc.stderr()}`);
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

async function stop(proc: Started): Promise<number | null> {
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
  const code = await proc.exited;
  clearTimeout(timer);
  return code;
}

let redis: StartedRedis;
let dir: string;
before(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'pushfleet-entrypoint-'));
});
after(async () => {
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('dry run maps every command to its process', () => {
  const dryWith = (runtime: string, ...args: string[]) =>
    spawnSync('sh', [entrypoint, ...args], {
      encoding: 'utf8',
      cwd: tmpdir(),
      env: { ...process.env, PUSHFLEET_ENTRYPOINT_DRY_RUN: '1', PUSHFLEET_ENTRYPOINT_RUNTIME: runtime },
    });
  const dry = (...args: string[]) => dryWith('source', ...args);
  for (const app of ['api', 'scheduler', 'cli']) {
    assert.equal(dry(app, '--x').stdout.trim(), `node --import tsx apps/${app}/src/main.ts --x`);
    assert.equal(dryWith('dist', app, '--x').stdout.trim(), `node dist/${app}.mjs --x`);
  }
  // The worker runs with V8 memory flags (see the entrypoint and BENCHMARKS.md).
  assert.equal(
    dryWith('dist', 'worker', '--x').stdout.trim(),
    'node --max-semi-space-size=2 --heap-growing-percent=100 dist/worker.mjs --x',
  );
  assert.equal(
    dry('worker').stdout.trim(),
    'node --max-semi-space-size=2 --heap-growing-percent=100 --import tsx apps/worker/src/main.ts',
  );
  const withNodeArgs = spawnSync('sh', [entrypoint, 'api'], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PUSHFLEET_ENTRYPOINT_DRY_RUN: '1',
      PUSHFLEET_ENTRYPOINT_RUNTIME: 'dist',
      PUSHFLEET_ENTRYPOINT_NODE_ARGS: '--cpu-prof --cpu-prof-dir=/tmp/p',
    },
  });
  assert.equal(withNodeArgs.stdout.trim(), 'node --cpu-prof --cpu-prof-dir=/tmp/p dist/api.mjs');
  assert.equal(
    dryWith('dist', 'apns-sim').stdout.trim(),
    'node dist/apns-sim.mjs --host 0.0.0.0 --port 8443 --control-port 8444',
  );
  assert.equal(
    dry('apns-sim').stdout.trim(),
    'node --import tsx apps/apns-sim/src/main.ts --host 0.0.0.0 --port 8443 --control-port 8444',
  );
  assert.equal(
    dry('apns-sim', '--port', '1').stdout.trim(),
    'node --import tsx apps/apns-sim/src/main.ts --port 1',
  );
  assert.equal(dry('healthcheck').stdout.trim(), 'node scripts/ops/healthcheck.mjs');
  const help = dry();
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: <image> <command>/);
  const unknown = dry('bogus');
  assert.equal(unknown.status, 64);
  assert.match(unknown.stderr, /unknown command "bogus"/);
});

test('cli help runs through the entrypoint', () => {
  const result = spawnSync('sh', [entrypoint, 'cli', 'help'], { encoding: 'utf8', cwd: tmpdir() });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /usage: pushfleet <command>/);
});

test('a relative PUSHFLEET_CONFIG stays relative to the caller', () => {
  writeFileSync(join(dir, 'bad.yaml'), 'apps: 42\n');
  const result = spawnSync('sh', [entrypoint, 'api'], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...process.env, PUSHFLEET_CONFIG: 'bad.yaml' },
  });
  assert.notEqual(result.status, 0);
  // It read the file (and rejected its content), rather than failing to find it.
  assert.doesNotMatch(result.stderr, /cannot read config file/);
  assert.match(result.stderr, /apps/);
});

test('apns-sim, api, worker and scheduler start, pass the healthcheck and stop on SIGTERM', async () => {
  // The simulator as compose runs it: TLS material from demo-init.
  const { files } = writeDemoMaterial(join(dir, 'demo'), 'localhost');
  const simPort = await freePort();
  const controlPort = await freePort();
  const sim = start(
    [
      'apns-sim',
      ...['--host', '127.0.0.1', '--port', String(simPort), '--control-port', String(controlPort)],
      ...['--tls-cert', files.simCertFile, '--tls-key', files.simKeyFile, '--tls-ca', files.caFile],
    ],
    {},
  );
  const started: Started[] = [sim];
  try {
    await healthy(controlPort, sim);
    assert.equal(healthcheck(sim.child.pid).status, 0, 'apns-sim healthcheck');
    await prepareSimulator(`http://127.0.0.1:${controlPort}`, join(dir, 'demo'), []);

    // The compose demo's config, pointed at this machine's Redis, simulator and free ports.
    const config = parseYaml(readFileSync(join(root, 'deploy/compose/pushfleet.yaml'), 'utf8'));
    const demoApp = config.apps.demo;
    demoApp.credentials.keyFile = files.providerKeyFile;
    demoApp.endpoint = { host: 'localhost', port: simPort, caFile: files.caFile };
    const ports = { api: await freePort(), worker: await freePort(), scheduler: await freePort() };
    config.redis = { url: redis.url, prefix: `ops-${process.pid}-${Date.now()}` };
    config.log = { level: 'warn' };
    for (const app of ['api', 'worker', 'scheduler'] as const) config[app] = { host: '127.0.0.1', port: 1 };
    assert.ok(configSchema.safeParse(config).success, 'the compose config parses');
    const configFile = join(dir, 'pushfleet.json');
    writeFileSync(configFile, JSON.stringify(config));

    const procs: Record<string, Started> = {};
    for (const app of ['api', 'worker', 'scheduler'] as const) {
      // The port comes from an env override, as the healthcheck must find it (config says port 1).
      const env = {
        PUSHFLEET_CONFIG: configFile,
        [`PUSHFLEET_${app.toUpperCase()}__PORT`]: String(ports[app]),
      };
      procs[app] = start([app], env);
      started.push(procs[app]);
    }
    for (const app of ['api', 'worker', 'scheduler'] as const) {
      await healthy(ports[app], procs[app]!);
      const check = healthcheck(procs[app]!.child.pid);
      assert.equal(check.status, 0, `${app} healthcheck: ${check.stderr}`);
    }

    // The demo traffic path: one request through the api, delivered by the worker to the simulator.
    const api = `http://127.0.0.1:${ports.api}`;
    const id = await sendBatch(api, 'demo', 5);
    await waitFor(
      'demo batch delivered',
      async () => {
        const body = (await (await fetch(`${api}/v1/apps/demo/notifications/${id}`)).json()) as {
          delivered: number;
        };
        return body.delivered === 5;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    // The simulator accepts the demo's fault set (a bad spec answers 400).
    await prepareSimulator(`http://127.0.0.1:${controlPort}`, join(dir, 'demo'));

    for (const app of ['api', 'worker', 'scheduler'] as const) {
      assert.equal(await stop(procs[app]!), 0, `${app} exits 0 on SIGTERM:\n${procs[app]!.stderr()}`);
      started.splice(started.indexOf(procs[app]!), 1);
    }
    // Once the process is gone the healthcheck fails.
    assert.equal(healthcheck(procs.api!.child.pid).status, 1);
  } finally {
    await Promise.all(started.map((proc) => stop(proc)));
  }
});
