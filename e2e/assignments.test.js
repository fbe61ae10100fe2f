// Jobs in the release app against the real server: offers pushed live, accepted offline, kept
// across a server restart, handled once, shown as text, and a system notification in the
// background.

'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const { freePort, startServer, launchBrowser, eventually, getJson, postJson, scratchDirectory } = require('./harness');

const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function open({ db = ':memory:', port = 0, permissions = [] } = {}) {
  const server = await startServer({ db, port });
  cleanups.push(() => server.stop());
  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  if (permissions.length > 0) await browser.context.grantPermissions(permissions, { origin: server.url });
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => assert.fail(`page error: ${error}`));
  await page.goto(`${server.url}/?debug`);
  await eventually(async () => (await page.getByTestId('connection').textContent()).includes('Online'), { message: 'Online' });
  return { server, browser, page };
}

let jobNumber = 0;
function newJob(extra = {}) {
  jobNumber += 1;
  const now = Date.now();
  return {
    id: `e2e-job-${jobNumber}`,
    driver_id: 'demo-driver',
    pickup: { address: `Pickup street ${jobNumber}`, lat: 48.1374, lon: 11.5755 },
    dropoff: { address: `Drop-off street ${jobNumber}`, lat: 48.16, lon: 11.5863 },
    window: { from_ms: now, to_ms: now + 3600000 },
    notes: '',
    accept_by_ms: now + 600000,
    ...extra,
  };
}

const jobStatus = async (server, id) =>
  (await getJson(server, '/api/assignments')).find((record) => record.assignment.id === id)?.assignment.status;

test('a job offered through the API appears on every screen, its notes shown as text', async () => {
  const { server, page } = await open();
  const job = newJob({ notes: '<script>window.injected = true</script><b>Ring twice</b>' });
  await postJson(server, '/api/assignments', job);
  await page.getByTestId('offer-banner').waitFor();
  assert.match(await page.getByTestId('offer-route').textContent(), /Pickup street .* → Drop-off street/);
  assert.match(await page.getByTestId('offer-countdown').textContent(), /Accept within (9|10):\d\d/);
  await page.getByRole('link', { name: 'Open the job' }).click();
  await page.getByTestId('job-notes').waitFor();
  assert.equal(await page.getByTestId('job-notes').textContent(), job.notes, 'shown exactly as typed');
  assert.equal(await page.locator('[data-testid=job-notes] script, [data-testid=job-notes] b').count(), 0, 'no element made from it');
  assert.equal(await page.evaluate(() => window.injected), undefined, 'nothing ran');
  await page.getByRole('link', { name: 'All jobs' }).click();
  assert.equal(await page.getByTestId('job-card').count(), 1);
});

test('accepting offline and reconnecting ends with the server showing it accepted', async () => {
  const { server, browser, page } = await open();
  const job = newJob();
  await postJson(server, '/api/assignments', job);
  await page.goto(`${server.url}/assignments/${job.id}?debug`);
  await page.locator('[data-action=accept]').waitFor();
  await browser.context.setOffline(true);
  await eventually(async () => (await page.getByTestId('connection').textContent()).startsWith('Offline'), { message: 'offline' });
  await page.locator('[data-action=accept]').click();
  await eventually(async () => (await page.getByTestId('job-status').textContent()) === 'Accepted', { message: 'accepted at once' });
  assert.match(await page.getByTestId('job-history').textContent(), /Accepted · you · waiting for the server/);
  assert.equal(await jobStatus(server, job.id), 'offered', 'the server does not know yet');
  await browser.context.setOffline(false);
  await eventually(async () => (await jobStatus(server, job.id)) === 'accepted', { message: 'accepted on the server' });
  await eventually(async () => /Accepted · you · confirmed/.test(await page.getByTestId('job-history').textContent()), {
    message: 'confirmed on the device',
  });
});

test('a job pushed while the phone is offline survives a server restart and arrives exactly once', async () => {
  const directory = scratchDirectory();
  cleanups.push(async () => fs.rmSync(directory, { recursive: true, force: true }));
  const db = path.join(directory, 'enroute.db');
  const port = await freePort();
  let { server, browser, page } = await open({ db, port });
  await browser.context.setOffline(true);
  await eventually(async () => (await page.getByTestId('connection').textContent()).startsWith('Offline'), { message: 'offline' });
  const job = newJob();
  await postJson(server, '/api/assignments', job); // stored; the phone cannot be reached
  await server.stop('SIGKILL');
  server = await startServer({ db, port });
  cleanups.push(() => server.stop());
  await browser.context.setOffline(false);
  await page.goto(`${server.url}/assignments?debug`);
  await eventually(async () => (await page.getByTestId('job-card').count()) === 1, { message: 'the job on the phone' });
  // Ask the server for every event again: the duplicate must change nothing.
  await page.evaluate(() => window.enrouteDebug.replayEvents());
  await eventually(async () => server.logs.filter((line) => line.includes('hello')).length >= 2, { message: 'a second hello' });
  await page.waitForTimeout(500);
  assert.equal(await page.getByTestId('job-card').count(), 1, 'shown once');
  await page.goto(`${server.url}/assignments/${job.id}?debug`);
  await eventually(async () => (await page.getByTestId('job-history').locator('li').count()) > 0, { message: 'the job loaded' });
  assert.equal(await page.getByTestId('job-history').locator('li').count(), 1, 'one history entry: offered');
});

test('an offer while the app is in the background becomes a system notification that opens the job', async () => {
  const { server, page } = await open({ permissions: ['notifications'] });
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    Object.defineProperty(document, 'hidden', { value: true, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  const consoleLines = [];
  page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
  const job = newJob();
  await postJson(server, '/api/assignments', job);
  // First the offer must reach the app (the banner renders even while the page is hidden), so a
  // failure below is about the notification and not about delivery.
  await eventually(async () => (await page.getByTestId('offer-banner').count()) === 1, { message: 'the offer in the app' });
  // Then the app must have shown it, before the notifications are read. Regression (this test
  // failed in about 1 run of 3): Chromium's getNotifications() drops from its store every
  // notification its display does not list yet, so reading while the app's notification was
  // being shown deleted it, and no later read found it.
  await eventually(() => consoleLines.some((line) => line.includes('system notification shown for a job')), {
    timeoutMs: 20000,
    message: 'the app showing a notification',
  }).catch((error) => {
    throw new Error(`${error.message}; the page said:\n${consoleLines.join('\n')}`);
  });
  const notifications = await eventually(
    async () => {
      const shown = await page.evaluate(async () =>
        (await (await navigator.serviceWorker.ready).getNotifications()).map((notification) => ({
          title: notification.title,
          body: notification.body,
          url: notification.data && notification.data.url,
        })),
      );
      return shown.length > 0 ? shown : null;
    },
    { timeoutMs: 20000, message: 'a system notification' },
  ).catch((error) => {
    throw new Error(`${error.message}; the page said:\n${consoleLines.join('\n')}`);
  });
  assert.deepEqual(notifications[0], {
    title: 'New job offered',
    body: `${job.pickup.address} → ${job.dropoff.address}`,
    url: `/assignments/${job.id}`,
  });
});

test('the dispatcher page shows drivers and jobs and offers a job', async () => {
  const { server, browser } = await open();
  const dispatcher = await browser.context.newPage();
  await dispatcher.setViewportSize({ width: 1280, height: 900 }); // a dispatcher's desk, not a phone
  await dispatcher.goto(`${server.url}/dispatch?token=e2e-dispatcher-token`);
  await dispatcher.locator('#notes').fill('<img src=x onerror="window.hacked=1">');
  await dispatcher.getByRole('button', { name: 'Offer job' }).click();
  await eventually(async () => /Offered /.test(await dispatcher.locator('#result').textContent()), { message: 'offered' });
  await eventually(async () => (await dispatcher.locator('#jobs tr').count()) === 1, { message: 'the job listed' });
  await eventually(async () => (await dispatcher.locator('#drivers tr[data-driver=demo-driver]').count()) === 1, {
    message: 'the driver listed',
  });
  assert.equal(await dispatcher.evaluate(() => window.hacked), undefined);
  await dispatcher.getByRole('button', { name: 'Cancel' }).click();
  await eventually(async () => (await dispatcher.locator('#jobs .status').textContent()) === 'cancelled', { message: 'cancelled' });
});

test('a driver walks a job through to delivered, warned when far from the drop-off', async () => {
  const server = await startServer();
  cleanups.push(() => server.stop());
  // The phone is 2 km from the drop-off.
  const browser = await launchBrowser({ geolocation: { latitude: 48.1374, longitude: 11.5755, accuracy: 5 } });
  cleanups.push(() => browser.close());
  await browser.context.grantPermissions(['geolocation'], { origin: server.url });
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/?debug`);
  await eventually(async () => (await page.getByTestId('connection').textContent()).includes('Online'), { message: 'Online' });
  await page.getByTestId('duty-toggle').click();
  await eventually(async () => (await page.getByTestId('tracking-headline').textContent()) === 'Tracking', { message: 'tracking' });
  const job = newJob();
  await postJson(server, '/api/assignments', job);
  await page.getByTestId('offer-banner').waitFor();
  await page.getByRole('link', { name: 'Open the job' }).click();
  for (const action of ['accept', 'start_route', 'arrive_at_pickup', 'pick_up', 'arrive_at_dropoff']) {
    await page.locator(`[data-action=${action}]`).click();
    await page.locator(`[data-action=${action}]`).waitFor({ state: 'detached' });
  }
  await page.locator('[data-action=deliver]').click();
  await page.getByTestId('far-delivery').waitFor();
  assert.match(await page.getByTestId('far-delivery').textContent(), /You are \d+ m from the drop-off/);
  await page.getByRole('button', { name: 'Delivered anyway' }).click();
  await eventually(async () => (await page.getByTestId('job-status').textContent()) === 'Delivered', { message: 'delivered' });
  await eventually(async () => (await jobStatus(server, job.id)) === 'delivered', { message: 'delivered on the server' });
  const history = (await getJson(server, '/api/assignments')).find((record) => record.assignment.id === job.id).history;
  assert.deepEqual(
    history.map((entry) => entry.status),
    ['offered', 'accepted', 'en_route', 'arrived_at_pickup', 'picked_up', 'arrived_at_dropoff', 'delivered'],
  );
});
