// The service worker's background upload (Chromium: Background Sync fired through the DevTools
// protocol, with no app window open): it sets aside the records the server refuses, as the app
// does, and it works across versions, because the app and the worker share one definition of
// the device's IndexedDB layout (device-layout.json): an older worker uploads what this app
// stored, and this worker uploads what an older app stored.

'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { DIST, startServer, launchBrowser, eventually, getJson, scratchDirectory, fireBackgroundSync } = require('./harness');

const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function started({ dist } = {}) {
  const server = await startServer({ dist });
  cleanups.push(() => server.stop());
  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  await browser.context.addInitScript(IN_PAGE_HELPERS);
  return { server, browser };
}

/** Opens the app, waits until it is online and its worker controls it. */
async function openApp(server, browser) {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  await eventually(async () => (await page.getByTestId('connection').textContent()).includes('Online'), { message: 'Online' });
  await page.evaluate(() => navigator.serviceWorker.ready);
  await eventually(() => page.evaluate(() => navigator.serviceWorker.controller !== null), { message: 'controlled' });
  return page;
}

// In-page helpers, added to every page of the test browser (the app's CSP forbids evaluating
// strings in the page, so they cannot be passed in as source text).
const IN_PAGE_HELPERS = () => {
  window.__enrouteTest = {
    request: (idbRequest) =>
      new Promise((resolve, reject) => {
        idbRequest.onsuccess = () => resolve(idbRequest.result);
        idbRequest.onerror = () => reject(idbRequest.error);
      }),
    /** The app's first device database ("enroute"). */
    open() {
      return this.request(indexedDB.open('enroute'));
    },
  };
};

/** The device database's outbox keys, counters and dead letters. */
const deviceState = (page) =>
  page.evaluate(async () => {
    const { request } = window.__enrouteTest;
    const database = await window.__enrouteTest.open();
    try {
      const reading = database.transaction(['outbox', 'meta', 'dead_letters'], 'readonly');
      return {
        outbox: await request(reading.objectStore('outbox').getAllKeys()),
        counters: JSON.parse((await request(reading.objectStore('meta').get('outbox'))) || '{}'),
        deadLetters: (await request(reading.objectStore('dead_letters').getAll())).map((text) => JSON.parse(text)),
      };
    } finally {
      database.close();
    }
  });

const records = async (server) => (await getJson(server, '/api/drivers/demo-driver/records')).records;

/** Queues the driver's duty change while offline, so it waits in the outbox; returns its page. */
async function queueADutyChange(server, browser) {
  const page = await openApp(server, browser);
  await browser.context.setOffline(true);
  await eventually(async () => (await page.getByTestId('connection').textContent()).startsWith('Offline'), { message: 'offline' });
  await page.getByTestId('duty-toggle').click();
  await eventually(async () => {
    const element = page.getByTestId('waiting');
    return Number(await element.getAttribute('data-waiting')) >= 1 && (await element.getAttribute('data-unsaved')) === '0';
  }, { message: 'the change stored' });
  return page;
}

test('regression: the worker sets aside the records the server refuses, counted, instead of dropping them', async () => {
  const { server, browser } = await started();
  const page = await queueADutyChange(server, browser);
  // A record the server refuses (made before 2020: a phone whose clock was not set), stored as
  // the app stores records, behind the duty change.
  const refusedId = 'e'.repeat(32);
  await page.evaluate(
    async (id) => {
      const { request } = window.__enrouteTest;
      const database = await window.__enrouteTest.open();
      const writing = database.transaction(['outbox', 'meta'], 'readwrite');
      const meta = writing.objectStore('meta');
      const counters = JSON.parse(await request(meta.get('outbox')));
      const seq = counters.last_seq + 1;
      const record = { seq, id, created_at_ms: 1_000_000_000_000, kind: 'status', status: 'off_duty' };
      writing.objectStore('outbox').put(JSON.stringify(record), seq);
      counters.last_seq = seq;
      meta.put(JSON.stringify(counters), 'outbox');
      await new Promise((resolve) => (writing.oncomplete = resolve));
      database.close();
    },
    refusedId,
  );
  await page.close();
  await browser.context.setOffline(false);
  await fireBackgroundSync(browser, server);
  await eventually(async () => (await records(server)).some((record) => record.status === 'on_duty'), {
    timeoutMs: 20000,
    message: 'the duty change uploaded',
  });
  const check = await browser.context.newPage();
  await check.goto(`${server.url}/nowhere-the-app-goes`); // an app page (the worker serves it), to read IndexedDB
  const state = await eventually(
    async () => {
      const current = await deviceState(check);
      return current.outbox.length === 0 ? current : null;
    },
    { message: 'the outbox emptied' },
  );
  assert.deepEqual(state.deadLetters.map((letter) => letter.record.id), [refusedId], 'set aside, not dropped');
  assert.match(state.deadLetters[0].reason, /before 2020/);
  assert.equal(state.counters.dead_letters_total, 1, 'counted');
  // The app shows it, with the export.
  await check.goto(server.url);
  await check.getByTestId('dead-letters').waitFor();
  assert.match(await check.getByTestId('dead-letters').textContent(), /1 record was refused by dispatch/);
});

test('an older worker (0.1.0) uploads what this version of the app stored', async () => {
  // This build with the worker as version 0.1.0 shipped it (filled in as its build did).
  const directory = scratchDirectory();
  cleanups.push(async () => fs.rmSync(directory, { recursive: true, force: true }));
  const dist = path.join(directory, 'dist');
  fs.cpSync(DIST, dist, { recursive: true });
  const built = fs.readFileSync(path.join(dist, 'service-worker.js'), 'utf8');
  const line = (name) => built.match(new RegExp(`^const ${name} = .*$`, 'm'))[0];
  const older = fs
    .readFileSync(path.join(__dirname, 'fixtures', 'service-worker-0.1.0.js'), 'utf8')
    .replace(/^const VERSION = .*$/m, 'const VERSION = "0.1.0";')
    .replace(/^const PRECACHE = .*$/m, line('PRECACHE'));
  fs.writeFileSync(path.join(dist, 'service-worker.js'), older);
  const { server, browser } = await started({ dist });
  const page = await queueADutyChange(server, browser);
  assert.equal(
    await page.evaluate(
      () =>
        new Promise((resolve) => {
          const channel = new MessageChannel();
          channel.port1.onmessage = (event) => resolve(event.data.version);
          navigator.serviceWorker.controller.postMessage({ type: 'version' }, [channel.port2]);
        }),
    ),
    '0.1.0',
    'the older worker is in charge',
  );
  await page.close();
  await browser.context.setOffline(false);
  await fireBackgroundSync(browser, server);
  await eventually(async () => (await records(server)).some((record) => record.status === 'on_duty'), {
    timeoutMs: 20000,
    message: 'the duty change uploaded by the older worker',
  });
  const again = await openApp(server, browser);
  await eventually(async () => Number(await again.getByTestId('waiting').getAttribute('data-waiting')) === 0, {
    message: 'nothing left to send',
  });
  const dutyChanges = (await records(server)).filter((record) => record.status === 'on_duty');
  assert.equal(dutyChanges.length, 1, 'sent once');
});

test('this version of the worker uploads what an older app (0.1.0) stored', async () => {
  const { server, browser } = await started();
  const page = await openApp(server, browser);
  await browser.context.setOffline(true);
  await eventually(async () => (await page.getByTestId('connection').textContent()).startsWith('Offline'), { message: 'offline' });
  // Exactly what 0.1.0 left in its one database: records put alone (its counters were written
  // only now and then, so they lag behind), and its device entry.
  await page.evaluate(
    async (origin) => {
      const { request } = window.__enrouteTest;
      const database = await window.__enrouteTest.open();
      const writing = database.transaction(['outbox', 'meta'], 'readwrite');
      const meta = writing.objectStore('meta');
      const counters = JSON.parse(await request(meta.get('outbox')));
      for (const offset of [1, 2]) {
        const seq = counters.last_seq + offset;
        const record = { seq, id: String(seq).padStart(32, '0'), created_at_ms: Date.now(), kind: 'status', status: offset === 1 ? 'on_duty' : 'off_duty' };
        writing.objectStore('outbox').put(JSON.stringify(record), seq);
      }
      meta.put(JSON.stringify({ driver_id: 'demo-driver', token: 'e2e-demo-driver-token', records_url: `${origin}/sync/records` }), 'device');
      await new Promise((resolve) => (writing.oncomplete = resolve));
      database.close();
    },
    server.url,
  );
  await page.close();
  await browser.context.setOffline(false);
  await fireBackgroundSync(browser, server);
  await eventually(async () => (await records(server)).filter((record) => record.kind === 'status').length === 2, {
    timeoutMs: 20000,
    message: 'both uploaded',
  });
  const again = await openApp(server, browser);
  await eventually(async () => Number(await again.getByTestId('waiting').getAttribute('data-waiting')) === 0, {
    message: 'nothing left to send',
  });
  // The app numbers on after them: a new record is not a duplicate.
  await again.getByTestId('duty-toggle').click();
  await eventually(async () => (await records(server)).filter((record) => record.kind === 'status').length >= 3, {
    message: 'a new record after them',
  });
});
