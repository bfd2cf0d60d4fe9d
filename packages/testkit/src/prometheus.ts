import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { waitFor } from './wait-for.ts';

/** Where Debian's `prometheus` package puts the server; PROMETHEUS_BIN wins, then PATH. */
export function prometheusBinary(): string | undefined {
  const candidates = [process.env.PROMETHEUS_BIN, '/usr/bin/prometheus'];
  const found = candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
  if (found) return found;
  const onPath = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' });
  return onPath.status === 0 && onPath.stdout.trim() ? onPath.stdout.trim() : undefined;
}

export const prometheusMissing =
  'the Prometheus server is not installed (Debian/Ubuntu: apt-get install -y prometheus, which also ' +
  'starts a daemon unless /usr/sbin/policy-rc.d exits 101; or set PROMETHEUS_BIN)';

export interface ScrapeTarget {
  /** The `component` label the dashboard and alerts select on: api | worker | scheduler. */
  component: string;
  port: number;
}

export interface StartPrometheusOptions {
  targets: ScrapeTarget[];
  /** Alerting/recording rule files, as YAML text (written to the temp dir). */
  rules?: string[];
  /** Scrape and rule evaluation interval (default 1 s: a short scenario still gets many samples). */
  intervalSeconds?: number;
  binary?: string;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  value: string;
}

export interface PromRule {
  name: string;
  type: 'alerting' | 'recording';
  query: string;
  health: string;
  lastError?: string;
  state?: string;
  alerts?: PromAlert[];
}

export interface StartedPrometheus {
  url: string;
  /** An instant query through /api/v1/query; a parse or evaluation error throws with Prometheus' message. */
  query(expr: string, time?: number): Promise<PromSample[]>;
  /** Every rule of every group with its health and active alerts (/api/v1/rules). */
  rules(): Promise<PromRule[]>;
  /** Scrape health per target (/api/v1/targets). */
  targets(): Promise<Array<{ labels: Record<string, string>; health: string; lastScrape: string }>>;
  stop(): Promise<void>;
}

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
  if (body.status !== 'success') throw new Error(`Prometheus ${body.errorType ?? res.status}: ${body.error}`);
  return body.data;
}

/**
 * A real Prometheus server on loopback with a temporary TSDB, scraping the given targets (one job
 * per component, the `component` label set as the chart's ServiceMonitors and the compose config
 * set it) and evaluating the given rules. Stopped with SIGTERM; the storage is removed.
 */
export async function startPrometheus(options: StartPrometheusOptions): Promise<StartedPrometheus> {
  const binary = options.binary ?? prometheusBinary();
  if (!binary) throw new Error(prometheusMissing);
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-prometheus-'));
  const interval = `${options.intervalSeconds ?? 1}s`;
  const ruleFiles = (options.rules ?? []).map((text, i) => {
    const file = join(dir, `rules-${i}.yml`);
    writeFileSync(file, text);
    return file;
  });
  const components = [...new Set(options.targets.map((t) => t.component))];
  // JSON is YAML: no YAML writer needed for the config.
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: ruleFiles,
    scrape_configs: components.map((component) => ({
      job_name: `pushfleet-${component}`,
      static_configs: [
        {
          targets: options.targets.filter((t) => t.component === component).map((t) => `127.0.0.1:${t.port}`),
          labels: { component },
        },
      ],
    })),
  };
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    log = (log + chunk).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'Prometheus ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`);
        return (await fetch(`${url}/-/ready`)).ok;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    async query(expr, time) {
      const params = new URLSearchParams({ query: expr });
      if (time !== undefined) params.set('time', String(time));
      const data = await api<{ resultType: string; result: PromSample[] | [number, string] }>(
        `${url}/api/v1/query?${params}`,
      );
      if (data.resultType === 'scalar')
        return [{ metric: {}, value: data.result as [number, string] } satisfies PromSample];
      return data.result as PromSample[];
    },
    async rules() {
      const data = await api<{ groups: Array<{ rules: PromRule[] }> }>(`${url}/api/v1/rules`);
      return data.groups.flatMap((g) => g.rules);
    },
    async targets() {
      const data = await api<{
        activeTargets: Array<{ labels: Record<string, string>; health: string; lastScrape: string }>;
      }>(`${url}/api/v1/targets`);
      return data.activeTargets;
    },
    stop,
  };
}
