// The live dispatch console (`/dispatch`) against the real server and a real phone: two consoles
// follow the dispatcher feed, a driver's position shows and moves on both maps, a job offered in
// one console shows in the other and on the phone, the phone's accept shows in both, a console
// that lost its connection catches up, and a console's room keeps other drivers out.

'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, launchBrowser, eventually, postJson, seriousAccessibilityViolations, DISPATCHER_TOKEN } = require('./harness');

const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const START = { latitude: 48.1374, longitude: 11.5755, accuracy: 5 };

/** A console in a browser of its own (so one can go offline alone), at a dispatcher's desk. */
async function openConsole(server, query = '') {
  const browser = await launchBrowser({ credentials: null, viewport: { width: 1280, height: 900 }, isMobile: false, hasTouch: false });
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => assert.fail(`console page error: ${error}`));
  await page.goto(`${server.url}/dispatch?token=${DISPATCHER_TOKEN}${query}`);
  await eventually(async () => (await linkState(page)) === 'Live', { message: 'the console live' });
  return { browser, page };
}

/** The phone, signed in as the demo driver, on duty and tracking at `START`. */
async function openPhone(server) {
  const browser = await launchBrowser({ geolocation: START });
  cleanups.push(() => browser.close());
  await browser.context.grantPermissions(['geolocation'], { origin: server.url });
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/?debug`);
  await eventually(async () => (await page.getByTestId('connection').textContent()).includes('Online'), { message: 'the phone online' });
  await page.getByTestId('duty-toggle').click();
  await eventually(async () => (await page.getByTestId('tracking-headline').textContent()) === 'Tracking', { message: 'tracking' });
  return { browser, page };
}

const linkState = (page) => page.getByTestId('console-link').textContent();
/** What the console's map drew for a driver in its last frame (console.js `mapDriver`), or null. */
const mapDriver = (page, driverId) => page.evaluate((id) => window.enrouteConsole.mapDriver(id), driverId);
/**
 * The colour the markers' canvas shows at the centre of a driver's marker, as `#rrggbb`: the map
 * draws drivers on a canvas, so this is how a test sees that one is really there.
 */
const markerColour = (page, driverId) =>
  page.evaluate((id) => {
    const drawn = window.enrouteConsole.mapDriver(id);
    const canvas = document.querySelector('[data-testid=console-map] canvas.driver-markers');
    if (!drawn || !canvas) return null;
    const ratio = canvas.width / canvas.clientWidth;
    const [r, g, b] = canvas.getContext('2d').getImageData(Math.round(drawn.x * ratio), Math.round(drawn.y * ratio), 1, 1).data;
    return `#${[r, g, b].map((value) => value.toString(16).padStart(2, '0')).join('')}`;
  }, driverId);
const LIVE_COLOUR = '#1b6b2a';
const jobRow = (page, jobId) => page.locator(`#jobs tr[data-job="${jobId}"]`);
const jobStatus = async (page, jobId) => ((await jobRow(page, jobId).count()) === 1 ? jobRow(page, jobId).locator('.status').textContent() : null);

test('two consoles follow the phone live: its position, a job offered in one, accepted on the phone', { timeout: 120000 }, async () => {
  const server = await startServer();
  cleanups.push(() => server.stop());
  const phone = await openPhone(server);
  const a = await openConsole(server);
  const b = await openConsole(server);
  // Another dispatcher's room, without the demo driver: sees none of it.
  const elsewhere = await b.browser.context.newPage();
  await elsewhere.goto(`${server.url}/dispatch?token=${DISPATCHER_TOKEN}&drivers=someone-else`);
  await eventually(async () => (await linkState(elsewhere)) === 'Live', { message: 'the room console live' });

  // The phone's position shows on both maps, and follows it.
  for (const { page } of [a, b]) {
    await eventually(async () => (await mapDriver(page, 'demo-driver'))?.inView === true, { message: 'the driver on the map' });
    await eventually(async () => /connected/.test(await page.locator('#drivers tr[data-driver=demo-driver]').textContent()), {
      message: 'the driver listed as connected',
    });
    assert.equal((await mapDriver(page, 'demo-driver')).state, 'live');
    assert.equal(await markerColour(page, 'demo-driver'), LIVE_COLOUR, 'a live marker drawn where the driver is');
  }
  const before = (await mapDriver(a.page, 'demo-driver')).fix_lat;
  const placedBefore = await mapDriver(a.page, 'demo-driver');
  let position = START;
  for (let leg = 1; leg <= 4; leg += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    position = { ...position, latitude: position.latitude + 0.0005 };
    await phone.browser.context.setGeolocation(position);
  }
  for (const { page } of [a, b]) {
    await eventually(async () => (await mapDriver(page, 'demo-driver')).fix_lat > before + 0.0009, {
      timeoutMs: 20000,
      message: 'the driver moved north on the map',
    });
  }
  const placedAfter = await mapDriver(a.page, 'demo-driver');
  assert.ok(placedAfter.y < placedBefore.y, `the marker moved up the map (${placedBefore.y} → ${placedAfter.y})`);
  assert.equal(await markerColour(a.page, 'demo-driver'), LIVE_COLOUR, 'drawn where it moved to');

  // Offered in console A, with notes that must stay text.
  const notes = '<img src=x onerror="window.hacked=1">Ring twice';
  await a.page.locator('#notes').fill(notes);
  await a.page.getByRole('button', { name: 'Offer job' }).click();
  await eventually(async () => /Offered \S+ to demo-driver\./.test(await a.page.locator('#result').textContent()), { message: 'offered' });
  const jobId = (await a.page.locator('#result').textContent()).match(/Offered (\S+) to/)[1];
  for (const { page } of [a, b]) {
    await eventually(async () => (await jobStatus(page, jobId)) === 'offered', { message: `${jobId} offered in a console` });
    assert.equal(await jobRow(page, jobId).locator('.notes').textContent(), notes, 'the notes shown as typed');
    assert.equal(await page.locator(`[data-testid=console-map] [data-job="${jobId}"]`).count(), 2, 'pickup and drop-off pins');
    assert.equal(await page.evaluate(() => window.hacked), undefined, 'nothing ran');
  }

  // On the phone, and accepted there.
  await phone.page.getByTestId('offer-banner').waitFor();
  await phone.page.getByRole('link', { name: 'Open the job' }).click();
  await phone.page.locator('[data-action=accept]').click();
  for (const { page } of [a, b]) {
    await eventually(async () => (await jobStatus(page, jobId)) === 'accepted', { message: `${jobId} accepted in a console` });
    assert.match(await jobRow(page, jobId).locator('.history').textContent(), /offered · dispatcher.*accepted · driver/);
  }

  // The room saw none of it.
  assert.equal(await elsewhere.locator('#jobs tr').count(), 0);
  assert.equal(await elsewhere.locator('#drivers tr').count(), 0);
  assert.equal(await mapDriver(elsewhere, 'demo-driver'), null);

  // Readable at a desk and on a tablet.
  assert.deepEqual(await seriousAccessibilityViolations(a.page), []);
  await a.page.setViewportSize({ width: 768, height: 1024 });
  assert.deepEqual(await seriousAccessibilityViolations(a.page), []);
});

test('a console that lost its connection catches up where it left off', { timeout: 90000 }, async () => {
  const server = await startServer();
  cleanups.push(() => server.stop());
  const job = (id) => {
    const now = Date.now();
    return {
      id,
      driver_id: 'demo-driver',
      pickup: { address: `Pickup of ${id}`, lat: 48.1374, lon: 11.5755 },
      dropoff: { address: `Drop-off of ${id}`, lat: 48.16, lon: 11.5863 },
      window: { from_ms: now, to_ms: now + 3600000 },
      accept_by_ms: now + 600000,
    };
  };
  await postJson(server, '/api/assignments', job('console-before'));
  const { browser, page } = await openConsole(server);
  await eventually(async () => (await jobStatus(page, 'console-before')) === 'offered', { message: 'the job from the snapshot' });

  await browser.context.setOffline(true);
  await eventually(async () => (await linkState(page)) === 'Offline', { message: 'Offline' });
  const updatedOffline = await page.getByTestId('console-updated').getAttribute('data-ms');
  // Meanwhile: one job cancelled, one offered, a message sent.
  await postJson(server, '/api/assignments/console-before/cancel');
  await postJson(server, '/api/assignments', job('console-during'));
  await postJson(server, '/api/drivers/demo-driver/messages', { text: 'Call the office <b>now</b>' });
  await page.waitForTimeout(500);
  assert.equal(await jobStatus(page, 'console-before'), 'offered', 'an offline console cannot know yet');

  await browser.context.setOffline(false);
  await eventually(async () => (await linkState(page)) === 'Live', { timeoutMs: 20000, message: 'Live again' });
  await eventually(async () => (await jobStatus(page, 'console-before')) === 'cancelled', { message: 'the cancel caught up' });
  await eventually(async () => (await jobStatus(page, 'console-during')) === 'offered', { message: 'the new job caught up' });
  await eventually(async () => /Call the office <b>now<\/b>/.test(await page.getByTestId('console-messages').textContent()), {
    message: 'the message caught up',
  });
  assert.equal(await page.locator('#jobs tr').count(), 2, 'each job once');
  assert.equal(await page.evaluate(() => window.enrouteConsole.snapshots()), 1, 'resumed, not sent a new snapshot');
  assert.ok(Number(await page.getByTestId('console-updated').getAttribute('data-ms')) > Number(updatedOffline), 'last update moved on');

  // A server that restarted has a new feed: the console starts over from its snapshot.
  await server.stop('SIGKILL');
  const restarted = await startServer({ port: server.port });
  cleanups.push(() => restarted.stop());
  await eventually(async () => (await linkState(page)) !== 'Live', { message: 'the drop noticed' });
  await eventually(async () => (await linkState(page)) === 'Live', { timeoutMs: 40000, message: 'Live on the new server' });
  await eventually(async () => (await page.locator('#jobs tr').count()) === 0, { message: 'the old feed forgotten (in-memory server)' });
});
