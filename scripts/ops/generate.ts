/**
 * Writes every generated ops file from its source, so none can drift:
 *   deploy/grafana/dashboards/pushfleet.json  ← scripts/ops/dashboard.ts
 *   helm/pushfleet/files/*                     ← the dashboard and deploy/prometheus/rules
 *   helm/pushfleet/values.schema.json          ← scripts/ops/chart-schema.ts
 *   docs/configuration.md, docs/metrics.md, docs/api.md, helm/pushfleet/README.md ← scripts/ops/docs.ts
 *
 *   node --import tsx scripts/ops/generate.ts          write them
 *   node --import tsx scripts/ops/generate.ts --check  exit 1 listing the stale ones
 * tests/ops/generated.test.ts runs the check.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildValuesSchema } from './chart-schema.ts';
import { buildDashboard } from './dashboard.ts';

export const root = fileURLToPath(new URL('../../', import.meta.url));

export interface Output {
  path: string;
  content: () => string | Promise<string>;
}

/** Formats text the way `biome check --write` would, so formatting the repo never makes it stale. */
export function biomeFormat(path: string, text: string): string {
  return execFileSync(join(root, 'node_modules/.bin/biome'), ['format', `--stdin-file-path=${path}`], {
    cwd: root,
    input: text,
    encoding: 'utf8',
  });
}

const dashboardJson = () => biomeFormat('dashboard.json', JSON.stringify(buildDashboard(), null, 2));
const rules = () => readFileSync(join(root, 'deploy/prometheus/rules/pushfleet.rules.yml'), 'utf8');

export async function outputs(): Promise<Output[]> {
  const { docOutputs } = await import('./docs.ts');
  return [
    { path: 'deploy/grafana/dashboards/pushfleet.json', content: dashboardJson },
    { path: 'helm/pushfleet/files/dashboards/pushfleet.json', content: dashboardJson },
    { path: 'helm/pushfleet/files/rules/pushfleet.rules.yml', content: rules },
    {
      path: 'helm/pushfleet/values.schema.json',
      content: () => biomeFormat('values.schema.json', JSON.stringify(buildValuesSchema(), null, 2)),
    },
    // Markdown through biome too: `biome check --write` formats it.
    ...docOutputs().map((o) => ({
      path: o.path,
      content: async () => biomeFormat(o.path, await o.content()),
    })),
  ];
}

/** Paths whose committed content differs from what would be generated. */
export async function staleOutputs(): Promise<Array<{ path: string; expected: string }>> {
  const stale = [];
  for (const output of await outputs()) {
    const file = join(root, output.path);
    const expected = await output.content();
    const actual = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    if (actual !== expected) stale.push({ path: output.path, expected });
  }
  return stale;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const stale = await staleOutputs();
  if (process.argv.includes('--check')) {
    for (const { path } of stale) process.stderr.write(`stale: ${path}\n`);
    process.exit(stale.length ? 1 : 0);
  }
  for (const { path, expected } of stale) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), expected);
    process.stdout.write(`wrote ${path}\n`);
  }
}
