// What a driver does, step by step, for the tests that run in every engine
// (engines.test.js, missing-apis.test.js): open the app through a network the test can cut,
// read what it shows, walk a job through to delivered.

'use strict';

const { freePort, startServer, eventually, getJson } = require('./harness');
const { launchEngine, text, attribute, count, testid, signInPath } = require('./engines');
const { startRelay } = require('./network');

/** Cleanups of the running test, last first (`cleanUp` runs them: call it in `afterEach`). */
const cleanups = [];

async function cleanUp() {
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop();
    await cleanup().catch(() => {});
  }
}

/**
 * A server (on a port it keeps across restarts), the relay the browser reaches it through, and
 * `engine` with one page opened on the sign-in link (plus `query`) and Online.
 */
async function open(engine, { db = ':memory:', dist, position, query = '' } = {}) {
  const port = await freePort();
  const server = { current: await startServer({ port, db, dist }) };
  cleanups.push(() => server.current.stop());
  const relay = await startRelay(port);
  cleanups.push(() => relay.close());
  const browser = await launchEngine(engine, { position });
  cleanups.push(() => browser.close());
  await browser.allowOrigin(relay.url);
  const page = await browser.newPage();
  await page.goto(`${relay.url}${signInPath()}${query ? `&${query}` : ''}`);
  await online(page);
  return {
    server,
    relay,
    browser,
    page,
    async restartServer({ dist: newDist } = {}) {
      await server.current.stop();
      server.current = await startServer({ port, db, dist: newDist ?? dist });
    },
  };
}

const online = (page, timeoutMs = 20000) =>
  eventually(async () => (await text(page, testid('connection')))?.includes('Online'), { timeoutMs, message: 'Online' });

const waiting = async (page) => Number(await attribute(page, testid('waiting'), 'data-waiting'));

const heading = (page) => text(page, 'h1');

const records = async (server) => (await getJson(server, '/api/drivers/demo-driver/records')).records;

/** The duty changes and pauses on the server, in order (location records left out). */
const statuses = async (server) =>
  (await records(server)).filter((record) => record.kind === 'status').map((record) => record.status);

/** Only the driver's own duty changes, in order. */
const dutyChanges = async (server) => (await statuses(server)).filter((status) => status === 'on_duty' || status === 'off_duty');

let jobNumber = 0;

/** A job for the demo driver, different each time. */
function newJob() {
  jobNumber += 1;
  const now = Date.now();
  return {
    id: `flow-job-${process.pid}-${jobNumber}`,
    driver_id: 'demo-driver',
    pickup: { address: `Pickup street ${jobNumber}`, lat: 48.1374, lon: 11.5755 },
    dropoff: { address: `Drop-off street ${jobNumber}`, lat: 48.16, lon: 11.5863 },
    window: { from_ms: now, to_ms: now + 3600000 },
    notes: 'Ring twice',
    accept_by_ms: now + 600000,
  };
}

const jobStatus = async (server, id) =>
  (await getJson(server, '/api/assignments')).find((record) => record.assignment.id === id)?.assignment.status;

/** Walks the open job from accepted to delivered, on the job's screen. */
async function deliver(page) {
  for (const action of ['accept', 'start_route', 'arrive_at_pickup', 'pick_up', 'arrive_at_dropoff']) {
    await eventually(async () => (await count(page, `[data-action=${action}]`)) === 1, { message: `the ${action} button` });
    await page.click(`[data-action=${action}]`);
    await eventually(async () => (await count(page, `[data-action=${action}]`)) === 0, { message: `${action} done` });
  }
  await page.click('[data-action=deliver]');
  await eventually(
    async () => (await count(page, testid('far-delivery'))) === 1 || (await text(page, testid('job-status'))) === 'Delivered',
    { message: 'delivered or asked to confirm' },
  );
  if ((await count(page, testid('far-delivery'))) === 1) await page.click('button', { text: 'Delivered anyway' });
  await eventually(async () => (await text(page, testid('job-status'))) === 'Delivered', { message: 'delivered' });
}

/** Moves the phone along a staircase of 40 m legs, 1.5 s apart; returns the points driven. */
async function drive(browser, page, start, legs) {
  let position = start;
  const driven = [start];
  for (let leg = 1; leg <= legs; leg += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    position =
      leg % 2 === 1 ? { ...position, latitude: position.latitude + 0.00036 } : { ...position, longitude: position.longitude + 0.00054 };
    driven.push(position);
    await browser.setPosition(page, position);
  }
  return driven;
}

module.exports = {
  cleanups,
  cleanUp,
  open,
  online,
  waiting,
  heading,
  records,
  statuses,
  dutyChanges,
  newJob,
  jobStatus,
  deliver,
  drive,
};
