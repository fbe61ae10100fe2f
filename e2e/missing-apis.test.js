// No browser API can take the app down: with each optional API removed before the app starts
// (one at a time in Chromium, all together in every engine), the whole driver flow still works:
// sign in, duty, positions, the offline queue, a live offer, accept, deliver, reload.
//
// The build is copied and `hide-apis.js` is loaded before the app's start script; it removes the
// APIs named in `?hide=`. Everything else is the release build, served by the real server.

'use strict';

const { describe, test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { DIST, eventually, postJson, scratchDirectory } = require('./harness');
const { ENGINES, text, count, attribute, testid } = require('./engines');
const { open, online, waiting, records, dutyChanges, newJob, jobStatus, deliver, drive, cleanUp } = require('./app-flows');

const APIS = [
  'vibrate',
  'Notification',
  'locks',
  'wakeLock',
  'SyncManager',
  'BroadcastChannel',
  'AudioContext',
  'permissions',
  'storage',
];

let dist;
before(() => {
  const directory = scratchDirectory('enroute-hidden-apis-');
  dist = path.join(directory, 'dist');
  fs.cpSync(DIST, dist, { recursive: true });
  fs.copyFileSync(path.join(__dirname, 'hide-apis.js'), path.join(dist, 'hide-apis.js'));
  const index = path.join(dist, 'index.html');
  const html = fs.readFileSync(index, 'utf8');
  assert.ok(html.includes('<head>'), 'index.html has a head');
  fs.writeFileSync(index, html.replace('<head>', '<head><script src="/hide-apis.js"></script>'));
});
after(() => fs.rmSync(path.dirname(dist), { recursive: true, force: true }));
afterEach(cleanUp);

/** The driver's whole flow with `hidden` removed from the browser. */
async function wholeFlow(engine, hidden) {
  const start = { latitude: 48.1374, longitude: 11.5755, accuracy: 5 };
  const { server, relay, browser, page } = await open(engine, { dist, position: start, query: `hide=${hidden.join(',')}` });
  assert.deepEqual(await page.evaluate(() => window.__enrouteHidden), hidden, 'the APIs are gone');

  // Duty and positions.
  await page.click(testid('duty-toggle'));
  await browser.setPosition(page, start);
  await drive(browser, page, start, 3);
  await eventually(async () => (await records(server.current)).some((record) => record.kind === 'location'), {
    timeoutMs: 20000,
    message: 'a position on the server',
  });

  // The network goes away: what the driver does waits on the phone, and goes when it is back.
  relay.cut();
  await eventually(async () => !(await text(page, testid('connection'))).includes('Online'), { message: 'the lost connection shown' });
  await page.click(testid('duty-toggle'));
  await eventually(async () => (await waiting(page)) >= 1, { message: 'the duty change waiting' });
  relay.restore();
  await eventually(async () => (await waiting(page)) === 0, { timeoutMs: 60000, message: 'the queue drained' });
  assert.deepEqual(await dutyChanges(server.current), ['on_duty', 'off_duty']);

  // A live offer, accepted and delivered.
  const job = newJob();
  await postJson(server.current, '/api/assignments', job);
  await eventually(async () => (await count(page, testid('offer-banner'))) === 1, { message: 'the live offer' });
  await page.click('a', { text: 'Open the job' });
  await deliver(page);
  await eventually(async () => (await jobStatus(server.current, job.id)) === 'delivered', { message: 'delivered on the server' });

  // A reload starts the app again, still without the APIs, with nothing lost.
  await page.reload();
  assert.deepEqual(await page.evaluate(() => window.__enrouteHidden), hidden, 'still gone after the reload');
  await online(page);
  await eventually(async () => (await attribute(page, testid('waiting'), 'data-waiting')) === '0', { message: 'nothing waiting' });
  assert.equal(await text(page, testid('job-status')), 'Delivered', 'the job screen after the reload');
  assert.deepEqual(page.errors, [], 'no page errors');
  assert.deepEqual(await page.evaluate(() => window.__enrouteErrors ?? []), [], 'no page errors');
}

for (const engine of ENGINES) {
  describe(`${engine} without optional browser APIs`, { concurrency: false }, () => {
    test(`all together: ${APIS.join(', ')}`, { timeout: 180000 }, () => wholeFlow(engine, APIS));
    if (engine === 'chromium') {
      // Chromium has every one of them, so each can be taken away alone.
      for (const api of APIS) {
        test(`only ${api}`, { timeout: 180000 }, () => wholeFlow(engine, [api]));
      }
    }
  });
}
