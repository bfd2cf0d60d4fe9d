#!/usr/bin/env node
// Bundles each app into dist/<app>.mjs with esbuild: the workspace packages are inlined, third-party
// packages stay external (resolved from node_modules). Production and benchmarks run these plain
// JS files with `node`: no TypeScript loader in memory, no compile at start.
import { cpSync } from 'node:fs';
import { build } from 'esbuild';

const apps = ['api', 'worker', 'scheduler', 'apns-sim', 'cli'];
const externalThirdParty = {
  name: 'external-third-party',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@pushfleet/') ? undefined : { path: args.path, external: true },
    );
  },
};

await Promise.all(
  apps.map((app) =>
    build({
      entryPoints: [`apps/${app}/src/main.ts`],
      outfile: `dist/${app}.mjs`,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'linked',
      plugins: [externalThirdParty],
      logLevel: 'warning',
    }),
  ),
);
// The store's Lua scripts are read at run time from `./lua/` beside the module: the bundles' dir.
cpSync('packages/store/src/lua', 'dist/lua', { recursive: true });
process.stdout.write(`built ${apps.map((a) => `dist/${a}.mjs`).join(', ')}\n`);
