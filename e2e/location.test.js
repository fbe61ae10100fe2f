// Location tracking in the release app: positions fed through Chromium's geolocation emulation
// reach the server exactly as the core throttle picks them; a denied permission is explained;
// a hidden page is on record as a pause.

'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, launchBrowser, eventually, getJson, scratchDirectory, REPLAY_BIN, TRACES } = require('./harness');

const servers = [];
const browsers = [];
let directory;

after(async () => {
  for (const browser of browsers) await browser.close();
  for (const server of servers) await server.stop();
  if (directory) fs.rmSync(directory, { recursive: true, force: true });
});

async function open({ permissions = [], geolocation, frames } = {}) {
  const server = await startServer();
  servers.push(server);
  const browser = await launchBrowser(geolocation ? { geolocation } : {});
  browsers.push(browser);
  if (permissions.length > 0) await browser.context.grantPermissions(permissions, { origin: server.url });
  const page = await browser.context.newPage();
  if (frames) {
    // Every frame of the app's sockets, as the browser sent and received it.
    page.on('websocket', (socket) => {
      socket.on('framesent', ({ payload }) => frames.push({ sent: true, text: String(payload) }));
      socket.on('framereceived', ({ payload }) => frames.push({ sent: false, text: String(payload) }));
    });
  }
  await page.goto(`${server.url}/?debug`);
  await eventually(async () => (await page.getByTestId('connection').textContent()).includes('Online'), { message: 'Online' });
  return { server, browser, page };
}

const records = async (server) => (await getJson(server, '/api/drivers/demo-driver/records')).records;

/** The first fixes of the Munich trace, as the route to drive. */
function munichRoute(count) {
  const file = path.join(TRACES, 'barefoot-munich-car.gpx');
  if (!fs.existsSync(file)) throw new Error(`missing shared trace ${file} (set ENROUTE_TRACES_DIR to the traces directory)`);
  const text = fs.readFileSync(file, 'utf8');
  const points = [...text.matchAll(/lat="([\d.]+)" lon="([\d.]+)"/g)].map((match) => ({
    latitude: Number(match[1]),
    longitude: Number(match[2]),
  }));
  assert.ok(points.length >= count, `the trace has ${points.length} points`);
  return points.slice(0, count);
}

test('the server receives exactly the fixes the core throttle picks for the same positions', { timeout: 180000 }, async () => {
  const route = munichRoute(150);
  const frames = [];
  const { server, browser, page } = await open({
    permissions: ['geolocation'],
    geolocation: { ...route[0], accuracy: 5 },
    frames,
  });
  await page.getByTestId('duty-toggle').click();
  await eventually(async () => (await page.getByTestId('tracking-headline').textContent()) === 'Tracking', {
    message: 'tracking',
  });
  // A second of trace every 250 ms: four times real speed, still below the jump limit.
  for (const point of route.slice(1)) {
    await browser.context.setGeolocation({ ...point, accuracy: 5 });
    await page.waitForTimeout(250);
  }
  await eventually(async () => JSON.parse(await page.evaluate(() => window.enrouteDebug.seenFixes())).length >= route.length - 5, {
    message: 'positions seen by the app',
  });
  await page.getByTestId('duty-toggle').click(); // off duty: the held fix is flushed
  await eventually(async () => (await page.getByTestId('waiting').getAttribute('data-waiting')) === '0', {
    message: 'everything sent',
  });
  const seen = JSON.parse(await page.evaluate(() => window.enrouteDebug.seenFixes()));
  const counts = await page.getByTestId('fix-counts').textContent();
  assert.match(counts, new RegExp(`${seen.length} seen`), 'the duty screen counts what it saw');

  // The same positions through the replay tool, which runs the same core throttle.
  directory = scratchDirectory();
  const csv = path.join(directory, 'seen.csv');
  const iso = (ms) => new Date(ms).toISOString();
  fs.writeFileSync(
    csv,
    'time,lat,lon,accuracy_m,speed_mps,heading_deg\n' +
      seen.map((fix) => `${iso(fix.time_ms)},${fix.lat},${fix.lon},${fix.accuracy_m},${fix.speed_mps ?? ''},${fix.heading_deg ?? ''}`).join('\n') +
      '\n',
  );
  const expected = execFileSync(REPLAY_BIN, ['run', '--format', 'jsonl', csv], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const received = (await records(server)).filter((record) => record.kind === 'location').map((record) => record.fix);
  assert.ok(expected.length >= 2 && expected.length < seen.length / 2, `${expected.length} sent of ${seen.length}`);
  assert.deepEqual(
    received.map((fix) => [fix.time_ms, fix.lat.toFixed(7), fix.lon.toFixed(7)]),
    expected.map((fix) => [fix.time_ms, fix.lat.toFixed(7), fix.lon.toFixed(7)]),
    'the server holds exactly the fixes the throttle picks',
  );
  const statuses = (await records(server)).filter((record) => record.kind === 'status').map((record) => record.status);
  assert.deepEqual(statuses, ['on_duty', 'off_duty']);

  // What the app really put on the wire: protocol 2, offered in hello and chosen by welcome;
  // after it, every records frame compact with every fix in its compact form, every ack compact.
  const sent = frames.filter((frame) => frame.sent).map((frame) => frame.text);
  const answers = frames.filter((frame) => !frame.sent).map((frame) => frame.text);
  const hello = JSON.parse(sent[0]);
  assert.equal(hello.type, 'hello');
  assert.equal(hello.max_protocol, 2, 'the app offers protocol 2');
  assert.equal(JSON.parse(answers[0]).protocol, 2, 'the server chose protocol 2');
  const recordFrames = sent.slice(1).filter((text) => /^\["[rR]"|"type":"records"/.test(text));
  assert.ok(recordFrames.length >= expected.length, `${recordFrames.length} records frames`);
  for (const text of recordFrames) {
    assert.match(text, /^\["[rR]",/, 'a records frame in the compact form');
    for (const entry of JSON.parse(text).slice(1)) {
      if (!Array.isArray(entry)) assert.notEqual(entry.kind, 'location', `a fix as an object: ${text}`);
    }
  }
  const acks = answers.filter((text) => /^\["a"|"type":"ack"/.test(text));
  assert.ok(acks.length >= recordFrames.length, `${acks.length} acks`);
  for (const text of acks) assert.match(text, /^\["a",\d+/, 'a compact ack');
  const fixEntries = recordFrames.flatMap((text) => JSON.parse(text).slice(1).filter(Array.isArray));
  assert.ok(fixEntries.length >= expected.length, `${fixEntries.length} compact fixes`);
  for (const entry of fixEntries) {
    assert.ok(JSON.stringify(entry).length <= 100, `a compact fix is under 100 bytes: ${JSON.stringify(entry)}`);
  }
});

test('a denied location permission is explained and on record', async () => {
  const { server, page } = await open(); // no permission granted: headless Chromium refuses
  await page.getByTestId('duty-toggle').click();
  await eventually(async () => (await page.getByTestId('tracking-headline').textContent()) === 'Location blocked', {
    message: 'the blocked-location guidance',
  });
  assert.match(await page.getByTestId('tracking-guidance').textContent(), /allow Location/);
  await eventually(async () => (await records(server)).some((record) => record.status === 'tracking_paused'), {
    message: 'the pause on the server',
  });
  const paused = (await records(server)).find((record) => record.status === 'tracking_paused');
  assert.equal(paused.reason, 'permission_denied');
});

test('hiding the page while on duty records a pause, and showing it again a resume', async () => {
  const route = munichRoute(3);
  const { server, page } = await open({ permissions: ['geolocation'], geolocation: { ...route[0], accuracy: 5 } });
  await page.getByTestId('duty-toggle').click();
  await eventually(async () => (await page.getByTestId('tracking-headline').textContent()) === 'Tracking', {
    message: 'tracking',
  });
  // Headless Chromium never hides a page by itself: emulate what the browser does.
  const setVisibility = (state) =>
    page.evaluate((visibility) => {
      Object.defineProperty(document, 'visibilityState', { value: visibility, configurable: true });
      Object.defineProperty(document, 'hidden', { value: visibility === 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    }, state);
  await setVisibility('hidden');
  await eventually(async () => (await records(server)).some((record) => record.status === 'tracking_paused'), {
    message: 'the pause on the server',
  });
  assert.equal((await records(server)).find((record) => record.status === 'tracking_paused').reason, 'page_hidden');
  await setVisibility('visible');
  await eventually(async () => (await records(server)).some((record) => record.status === 'tracking_resumed'), {
    message: 'the resume on the server',
  });
  const statuses = (await records(server)).filter((record) => record.kind === 'status').map((record) => record.status);
  assert.deepEqual(statuses, ['on_duty', 'tracking_paused', 'tracking_resumed']);
  await eventually(async () => (await page.getByTestId('tracking-headline').textContent()) === 'Tracking', {
    message: 'the duty screen to show tracking again',
  });
});
