// The chaos drive: 2,000 duty changes made through the app's real path (the duty button), while
// the server is killed with SIGKILL and restarted three times, the browser goes offline three
// times and the page reloads twice. At the end the server must hold every record exactly once,
// numbered 1..N without gaps, in the order they were made, and the app must show nothing waiting.

'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const { freePort, startServer, launchBrowser, eventually, scratchDirectory, getJson } = require('./harness');

const RECORDS = Number(process.env.ENROUTE_CHAOS_RECORDS || 2000);

let server;
let browser;
let directory;

after(async () => {
  await browser?.close();
  await server?.stop();
  if (directory) fs.rmSync(directory, { recursive: true, force: true });
});

async function waitingCounts(page) {
  const element = page.getByTestId('waiting');
  return {
    waiting: Number(await element.getAttribute('data-waiting')),
    unsaved: Number(await element.getAttribute('data-unsaved')),
  };
}

async function connectionLabel(page) {
  return (await page.getByTestId('connection').textContent()) ?? '';
}

/** Clicks the duty button and waits until the app shows the change: one record made. */
async function toggleDuty(page) {
  const button = page.getByTestId('duty-toggle');
  const before = await button.textContent();
  await button.click();
  await page.waitForFunction(
    (previous) => document.querySelector('[data-testid=duty-toggle]')?.textContent !== previous,
    before,
  );
}

test(`chaos drive: ${RECORDS} records survive 3 server kills, 3 offline periods and 2 reloads`, { timeout: 15 * 60 * 1000 }, async () => {
  directory = scratchDirectory();
  const database = path.join(directory, 'enroute.db');
  const port = await freePort();
  server = await startServer({ port, db: database });
  browser = await launchBrowser();
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => assert.fail(`page error: ${error}`));
  await page.goto(server.url);
  await eventually(async () => (await page.getByTestId('connection').textContent()).includes('Online'), {
    message: 'Online',
  });

  // What happens after which click.
  const kills = new Map([[250, 350], [900, 1000], [1500, 1600]]); // kill at key, restart at value
  const restarts = new Set(kills.values());
  const offline = new Map([[500, 600], [1100, 1200], [1700, 1800]]);
  const onlineAgain = new Set(offline.values());
  const reloads = new Set([700, 1300]);
  const events = { kills: 0, restarts: 0, offline: 0, reloads: 0 };

  for (let made = 0; made < RECORDS; made += 1) {
    if (kills.has(made)) {
      await server.stop('SIGKILL');
      events.kills += 1;
      await eventually(async () => /Disconnected|Offline/.test(await connectionLabel(page)), {
        message: 'the app to show the server is gone',
      });
    }
    if (restarts.has(made)) {
      server = await startServer({ port, db: database });
      events.restarts += 1;
    }
    if (offline.has(made)) {
      await browser.context.setOffline(true);
      events.offline += 1;
      await eventually(async () => (await connectionLabel(page)).startsWith('Offline'), {
        message: 'the app to show it is offline',
      });
    }
    if (onlineAgain.has(made)) {
      await browser.context.setOffline(false);
    }
    if (reloads.has(made)) {
      // A record is durable once written; reload only when every record made so far is.
      await eventually(async () => (await waitingCounts(page)).unsaved === 0, { message: 'all records stored' });
      await page.reload();
      events.reloads += 1;
    }
    await toggleDuty(page);
  }
  assert.deepEqual(events, { kills: 3, restarts: 3, offline: 3, reloads: 2 });

  await eventually(async () => (await waitingCounts(page)).waiting === 0, {
    timeoutMs: 120000,
    message: 'the outbox to drain',
  });
  assert.match(await page.getByTestId('waiting').textContent(), /All sent/);

  const history = await getJson(server, '/api/drivers/demo-driver/records');
  const seqs = history.records.map((record) => record.seq);
  const held = (await getJson(server, '/api/drivers/demo-driver')).acked_seq;
  assert.equal(held, seqs.length, 'the server applied every record it holds');
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, index) => index + 1), 'numbered 1..N, in order, once each');
  assert.equal(new Set(history.records.map((record) => record.id)).size, seqs.length, 'no duplicate ids');
  assert.deepEqual(history.lost, [], 'nothing declared lost');
  // Every click made exactly one duty change, in click order. (Going on duty also starts
  // tracking; without a location permission that adds a "tracking paused" record.)
  const duty = history.records.filter((record) => record.status === 'on_duty' || record.status === 'off_duty');
  assert.equal(duty.length, RECORDS, 'every duty change exactly once');
  duty.forEach((record, index) => {
    assert.equal(record.status, index % 2 === 0 ? 'on_duty' : 'off_duty', `duty change ${index + 1} in click order`);
  });
  assert.ok(seqs.length >= RECORDS, `${seqs.length} records in all`);
  const createdTimes = history.records.map((record) => record.created_at_ms);
  assert.ok(createdTimes.every((time, index) => index === 0 || time >= createdTimes[index - 1]), 'creation order');
});
