#!/usr/bin/env node
// The image's HEALTHCHECK: finds the Pushfleet process in the container (or --pid N), works out
// its ops port the way the process itself did (PUSHFLEET_<APP>__PORT, then the config file, then
// the default; the simulator's --control-port) and GETs /healthz. Exit 0 healthy, 1 not.
// Plain JavaScript on purpose: it runs every 30 s and must not pay a TypeScript compile.
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

const defaults = { api: 8080, worker: 9091, scheduler: 9092, 'apns-sim': 8444 };
// The app's entry: the esbuild bundle (dist/<app>.mjs, what the image runs) or its TypeScript source.
const appPattern =
  /(?:apps\/(api|worker|scheduler|apns-sim|cli)\/src\/main\.ts|dist\/(api|worker|scheduler|apns-sim|cli)\.mjs)$/;

function readCmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

function readEnviron(pid) {
  try {
    const pairs = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  } catch {
    return process.env;
  }
}

/** The Pushfleet process: the given pid, else PID 1, else (under an init such as tini) any process. */
function findProcess(pid) {
  const candidates = pid ? [pid] : ['1', ...readdirSync('/proc').filter((name) => /^\d+$/.test(name))];
  for (const candidate of candidates) {
    const argv = readCmdline(candidate);
    const script = argv?.find((arg) => appPattern.test(arg));
    if (script) {
      const match = appPattern.exec(script);
      return { pid: candidate, app: match[1] ?? match[2], argv };
    }
  }
  return undefined;
}

export function opsPort(app, argv, env) {
  if (app === 'apns-sim') {
    const i = argv.findIndex((a) => a === '--control-port' || a.startsWith('--control-port='));
    const value = i < 0 ? undefined : argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1];
    return Number(value ?? defaults['apns-sim']);
  }
  const override = env[`PUSHFLEET_${app.toUpperCase()}__PORT`];
  if (override) return Number(override);
  if (env.PUSHFLEET_CONFIG) {
    const text = readFileSync(env.PUSHFLEET_CONFIG, 'utf8');
    const port = parseYaml(text)?.[app]?.port; // JSON is YAML
    if (port !== undefined) return Number(port);
  }
  return defaults[app];
}

async function main() {
  const { values } = parseArgs({ options: { pid: { type: 'string' } } });
  const found = findProcess(values.pid);
  if (!found) {
    console.error('healthcheck: no Pushfleet process found');
    return 1;
  }
  if (found.app === 'cli') return 0; // one-shot command: nothing to probe
  const port = opsPort(found.app, found.argv, readEnviron(found.pid));
  if (!Number.isInteger(port) || port <= 0) {
    console.error(`healthcheck: ${found.app} has no fixed ops port (${port})`);
    return 1;
  }
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3000) });
    if (res.ok) return 0;
    console.error(`healthcheck: ${found.app} /healthz on ${port} answered ${res.status}`);
  } catch (err) {
    console.error(`healthcheck: ${found.app} /healthz on ${port}: ${err.message}`);
  }
  return 1;
}

process.exitCode = await main();
