import t from 'tap';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { ADMIN_TOKEN, CLIENT_TOKEN, connect, startPool } from './fixtures/pool-env.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Never skip in CI: there the dashboard must be proven in a real browser (the launch fails loudly).
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true' ? `${CHROMIUM} is missing (scripts/setup.sh installs it)` : false;

t.test('the dashboard in real headless Chromium: live pools, holders, queue, and enable/disable buttons', { skip }, async (t) => {
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }, { type: 'compute', value: 'h1', attrs: { os: 'ubuntu' } }] });
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(server.url + '/');
  t.match(await page.locator('#err').textContent({ timeout: 5000 }), /ERR_POOL_UNAUTHORIZED/, 'without a token the page says so');

  await page.fill('#token', CLIENT_TOKEN);
  await page.dispatchEvent('#token', 'change');
  await page.locator('#resources tr[data-id="port:7000"]').waitFor({ timeout: 5000 });
  t.equal(await page.locator('#resources tr[data-id="port:7000"] td:nth-child(3)').textContent(), 'free');

  // Live: a grant and a waiter show up without reloading.
  const holder = await connect(t, server, { name: 'holder-A' });
  const lease = await holder.acquire({ port: 1 });
  const waiter = await connect(t, server, { name: 'waiter-B' });
  const waiting = waiter.acquire({ port: 1 });
  waiting.catch(() => {});
  await page.locator('#resources tr[data-id="port:7000"] td:nth-child(4)', { hasText: 'holder-A' }).waitFor({ timeout: 5000 });
  await page.locator('#queue tbody tr td:nth-child(2)', { hasText: /^waiter-B$/ }).waitFor({ timeout: 5000 });
  const poolRow = await page.locator('#pools tbody tr', { hasText: 'port' }).innerText();
  t.match(poolRow, /port\s+1\s+0\s+1\s+0\s+1/, 'pool row: total 1, free 0, held 1, out 0, waiting 1');

  // The client token may not press admin buttons: the page shows the coded error.
  await page.locator('#resources tr[data-id="compute:h1"] button').click();
  await page.locator('#msg', { hasText: 'ERR_POOL_FORBIDDEN' }).waitFor({ timeout: 5000 });
  t.equal(server.state.resource('compute:h1').enabled, true);

  await page.fill('#token', ADMIN_TOKEN);
  await page.dispatchEvent('#token', 'change');
  await page.locator('#resources tr[data-id="compute:h1"] button', { hasText: 'disable' }).click();
  await page.locator('#resources tr[data-id="compute:h1"] td:nth-child(3)', { hasText: /^maintenance$/ }).waitFor({ timeout: 5000 });
  t.equal(server.state.resource('compute:h1').state, 'maintenance', 'the button disabled it in the pool');
  await page.locator('#resources tr[data-id="compute:h1"] button', { hasText: 'enable' }).click();
  await page.locator('#resources tr[data-id="compute:h1"] td:nth-child(3)', { hasText: /^free$/ }).waitFor({ timeout: 5000 });
  t.equal(server.state.resource('compute:h1').state, 'free');

  await lease.release();
  await waiting;
  await page.locator('#queue tbody tr').waitFor({ state: 'detached', timeout: 5000 });
  t.pass('the queue empties live');
});
