import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { feedbackKeys } from '@pushfleet/store';
import { type BrowserContext, chromium } from 'playwright-core';
import { startTestApi, type TestApi, token } from './helpers.ts';

/**
 * `/docs` in a real browser: Debian's Chromium, headless, opens the page from a test api on
 * 127.0.0.1, must render every operation of the document and call one from the page ("Try it
 * out" → Execute → the api's answer shown), with no request leaving the machine and no error
 * (a CSP violation is one). Skipped, saying why, where Chromium is not installed
 * (`apt-get install chromium`; .ci/run installs it).
 */
const executablePath = process.env.PF_CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(executablePath)
  ? false
  : `Chromium is not installed at ${executablePath} (apt-get install chromium, or set PF_CHROMIUM)`;

/** One entry of an app's feedback feed, as the feedback service writes it. */
const feedEntry = (device: string) =>
  ['token', device, 'environment', 'sandbox', 'reason', 'Unregistered', 'timestamp', '1700000000000'].concat([
    'action',
    'purged',
  ]);

let t: TestApi;
let base: string;
let context: BrowserContext;
let profile: string;
const requests: string[] = [];
const errors: string[] = [];

before(async () => {
  if (skip) return;
  t = await startTestApi();
  base = await t.api.listen({ host: '127.0.0.1', port: 0 });
  profile = mkdtempSync(join(tmpdir(), 'pf-docs-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Belt and braces: nothing but the loopback resolves, whatever the page might try.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  context.on('request', (request) => requests.push(request.url()));
  context.on('weberror', (error) => errors.push(`page error: ${error.error().message}`));
  context.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
});

after(async () => {
  if (skip) return;
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  await t.close();
});

test('/docs renders every operation in headless Chromium, calls one, and loads nothing from elsewhere', {
  skip,
  timeout: 120_000,
}, async () => {
  const doc = (await (await fetch(`${base}/docs/json`)).json()) as {
    paths: Record<string, Record<string, { operationId: string; tags: string[] }>>;
  };
  const expected = Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();

  const page = await context.newPage();
  await page.goto(`${base}/docs`, { waitUntil: 'load' });
  await page.waitForSelector('.opblock', { timeout: 30_000 });
  const rendered = await page.$$eval('.opblock', (blocks) =>
    blocks.map(
      (b) =>
        `${b.querySelector('.opblock-summary-method')?.textContent?.trim()} ${b.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`,
    ),
  );
  assert.deepEqual(rendered.sort(), expected);
  assert.match(await page.locator('.info .title').innerText(), /Pushfleet API/);
  assert.match(await page.locator('section.models').innerText(), /SendRequest/);

  // Try it out: read the feedback feed of the test app from the page itself.
  await t.redis.xadd(feedbackKeys.feed(t.prefix, 'demo'), '*', ...feedEntry(token(1)));
  const op = page.locator('#operations-feedback-feedback');
  await op.locator('.opblock-summary').click();
  await op.locator('.try-out__btn').click();
  await op.locator('tr[data-param-name="app"] input').fill('demo');
  await op.locator('button.execute').click();
  const status = op.locator('.live-responses-table tr.response .response-col_status').first();
  await status.waitFor({ timeout: 30_000 });
  assert.equal((await status.innerText()).trim(), '200');
  assert.match(await op.locator('.live-responses-table .microlight').first().innerText(), /"items"/);
  if (process.env.PF_DOCS_SCREENSHOT)
    await page.screenshot({ path: process.env.PF_DOCS_SCREENSHOT, fullPage: true });

  const away = requests.filter((url) => !url.startsWith(`${base}/`) && !url.startsWith('data:'));
  assert.deepEqual(away, [], 'every request the page made went to the api on 127.0.0.1');
  assert.ok(requests.some((url) => url === `${base}/docs/json`));
  assert.ok(
    requests.some((url) => url.startsWith(`${base}/v1/apps/demo/feedback`)),
    'the page called the api',
  );
  assert.deepEqual(errors, []);
});
