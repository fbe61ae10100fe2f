// The installable, offline-first app: starts with no network after one visit, updates only on
// the driver's tap, flushes records from the service worker after the page closed, and passes
// Chromium's installability checks and Lighthouse 11's PWA audits.

'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { freePort, startServer, launchBrowser, eventually, getJson, postJson, scratchDirectory, CHROMIUM_ARGS, fireBackgroundSync } = require('./harness');

const DIST = path.resolve(__dirname, '..', 'dist');
const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function started({ dist, port, db } = {}) {
  const server = await startServer({ dist, port, db });
  cleanups.push(() => server.stop());
  return server;
}

async function openApp(server, browser) {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  await eventually(async () => (await page.getByTestId('connection').textContent()).includes('Online'), { message: 'Online' });
  // The worker is installed and controls the page: the app shell is cached.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await eventually(() => page.evaluate(() => navigator.serviceWorker.controller !== null), { message: 'controlled' });
  return page;
}

const waiting = async (page) => Number(await page.getByTestId('waiting').getAttribute('data-waiting'));
const dutyChanges = async (server) =>
  (await getJson(server, '/api/drivers/demo-driver/records')).records.filter((record) => ['on_duty', 'off_duty'].includes(record.status));

test('after one visit the app starts offline with its jobs and waiting records, and drains when back online', async () => {
  const server = await started();
  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  const page = await openApp(server, browser);
  const now = Date.now();
  await postJson(server, '/api/assignments', {
    id: 'offline-job',
    driver_id: 'demo-driver',
    pickup: { address: 'Offline pickup', lat: 48.1, lon: 11.5 },
    dropoff: { address: 'Offline drop-off', lat: 48.2, lon: 11.6 },
    window: { from_ms: now, to_ms: now + 3600000 },
  });
  await page.getByTestId('offer-banner').waitFor();
  await browser.context.setOffline(true);
  await page.getByTestId('duty-toggle').click();
  await eventually(async () => (await waiting(page)) >= 1, { message: 'a record waiting' });
  await page.reload();
  assert.equal(await page.title(), 'Enroute', 'the app shell came from the cache');
  await page.getByTestId('offer-banner').waitFor();
  assert.match(await page.getByTestId('offer-route').textContent(), /Offline pickup/);
  await eventually(async () => (await waiting(page)) >= 1, { message: 'the waiting record after the reload' });
  await page.goto(`${server.url}/assignments/offline-job`);
  await eventually(async () => /Offline pickup → Offline drop-off/.test(await page.locator('h1').textContent()), {
    message: 'an app route working offline, showing the stored job',
  });
  await browser.context.setOffline(false);
  await eventually(async () => (await waiting(page)) === 0, { timeoutMs: 60000, message: 'the outbox to drain' });
  assert.deepEqual((await dutyChanges(server)).map((record) => record.status), ['on_duty']);
});

test('a new build waits until the driver taps Update, then takes over with nothing queued lost', async () => {
  const directory = scratchDirectory();
  cleanups.push(async () => fs.rmSync(directory, { recursive: true, force: true }));
  // Build B: the same app with its own version (what a new trunk build produces: new files,
  // and a worker that differs by its version and precache list).
  const distB = path.join(directory, 'dist-b');
  fs.cpSync(DIST, distB, { recursive: true });
  const workerB = path.join(distB, 'service-worker.js');
  fs.writeFileSync(workerB, fs.readFileSync(workerB, 'utf8').replace(/^const VERSION = .*$/m, 'const VERSION = "build-b";'));
  const port = await freePort();
  const db = path.join(directory, 'enroute.db');
  let server = await started({ port, db });
  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  const page = await openApp(server, browser);
  const versionOf = () =>
    page.evaluate(
      () =>
        new Promise((resolve) => {
          const channel = new MessageChannel();
          channel.port1.onmessage = (event) => resolve(event.data.version);
          navigator.serviceWorker.controller.postMessage({ type: 'version' }, [channel.port2]);
        }),
    );
  const versionA = await versionOf();
  assert.notEqual(versionA, 'build-b');
  await page.getByTestId('duty-toggle').click(); // on duty, sent
  await eventually(async () => (await waiting(page)) === 0, { message: 'sent' });
  // Build B is deployed.
  await server.stop();
  server = await started({ port, db, dist: distB });
  await browser.context.setOffline(true);
  await page.getByTestId('duty-toggle').click(); // off duty: queued while offline
  await eventually(async () => (await waiting(page)) === 1, { message: 'queued' });
  await browser.context.setOffline(false);
  await page.evaluate(() => navigator.serviceWorker.getRegistration().then((registration) => registration.update()));
  await page.getByTestId('update-banner').waitFor({ timeout: 20000 });
  assert.equal(await versionOf(), versionA, 'the new build waits: the page still runs build A');
  // The page reloads once build B controls it. (Polling the old worker for its version every
  // 50 ms here made the switch flaky: the new worker had been told to skip waiting but stayed
  // "installed", which Chromium does while the active worker is busy with events.)
  const reloaded = page.waitForEvent('load', { timeout: 20000 });
  await page.getByRole('button', { name: 'Update now' }).click();
  await reloaded;
  await eventually(async () => (await versionOf().catch(() => null)) === 'build-b', {
    timeoutMs: 20000,
    intervalMs: 500,
    message: 'build B in charge',
  });
  await eventually(async () => (await page.getByTestId('connection').textContent()).includes('Online'), { message: 'Online again' });
  await eventually(async () => (await waiting(page)) === 0, { timeoutMs: 30000, message: 'the queued record sent' });
  assert.deepEqual((await dutyChanges(server)).map((record) => record.status), ['on_duty', 'off_duty'], 'nothing lost');
});

test('records queued offline are flushed by the service worker after the page closed', async () => {
  const server = await started();
  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  const page = await openApp(server, browser);
  await page.getByTestId('duty-toggle').click();
  await eventually(async () => (await waiting(page)) === 0, { message: 'the first change sent' });
  await browser.context.setOffline(true);
  await eventually(async () => (await page.getByTestId('connection').textContent()).startsWith('Offline'), { message: 'offline' });
  await page.getByTestId('duty-toggle').click();
  await page.getByTestId('duty-toggle').click();
  await eventually(async () => {
    const element = page.getByTestId('waiting');
    // Off duty and on duty again (plus whatever the tracker recorded), all stored.
    return Number(await element.getAttribute('data-waiting')) >= 2 && (await element.getAttribute('data-unsaved')) === '0';
  }, { message: 'the records stored' });
  const queued = Number(await page.getByTestId('waiting').getAttribute('data-waiting'));
  // Background Sync was registered for them.
  const tags = await page.evaluate(async () => (await navigator.serviceWorker.ready).sync.getTags());
  assert.deepEqual(tags, ['enroute-flush']);
  await page.close();
  await browser.context.setOffline(false);
  // Fire the sync event as the browser would, from a page of another origin (no app window).
  await fireBackgroundSync(browser, server);
  await eventually(async () => (await dutyChanges(server)).length === 3, { timeoutMs: 20000, message: 'the flushed records' });
  const records = (await getJson(server, '/api/drivers/demo-driver/records')).records;
  assert.ok(records.length >= queued + 1, `${records.length} records on the server, ${queued} were queued`);
  assert.deepEqual(records.map((record) => record.seq), records.map((_, index) => index + 1), 'each once, in order');
  assert.deepEqual((await dutyChanges(server)).map((record) => record.status), ['on_duty', 'off_duty', 'on_duty']);
  // The app, opened again, has nothing left to send.
  const again = await browser.context.newPage();
  await again.goto(server.url);
  await eventually(async () => (await again.getByTestId('connection').textContent()).includes('Online'), { message: 'Online' });
  await eventually(async () => (await waiting(again)) === 0, { message: 'nothing waiting' });
  assert.equal((await dutyChanges(server)).length, 3, 'nothing sent twice');
});

test('Chromium reports no installability errors and Lighthouse 11 scores the PWA category 1', { timeout: 180000 }, async () => {
  const server = await started();
  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  const page = await openApp(server, browser);
  const cdp = await browser.context.newCDPSession(page);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, []);
  const { lighthouseReport } = require('./lighthouse');
  const report = await lighthouseReport(server.url, ['pwa']);
  const failed = Object.values(report.audits).filter((audit) => report.categories.pwa.auditRefs.some((ref) => ref.id === audit.id && ref.weight > 0) && audit.score !== 1);
  assert.deepEqual(failed.map((audit) => `${audit.id}: ${audit.title}`), []);
  assert.equal(report.categories.pwa.score, 1);
});
