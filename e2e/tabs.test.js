// One tracking tab: two tabs of the app elect one leader with Web Locks; the other shows the
// leader's state read-only and takes over when the leader closes.

'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, launchBrowser, eventually, getJson } = require('./harness');

let server;
let browser;

after(async () => {
  await browser?.close();
  await server?.stop();
});

const text = async (page, testId) => (await page.getByTestId(testId).textContent()) ?? '';

test('a second tab follows the first, and takes over when the first closes', async () => {
  server = await startServer();
  browser = await launchBrowser();
  const leader = await browser.context.newPage();
  await leader.goto(server.url);
  await eventually(async () => (await text(leader, 'connection')).includes('Online'), { message: 'leader online' });
  assert.equal(await leader.getByTestId('duty-toggle').isEnabled(), true);

  const follower = await browser.context.newPage();
  await follower.goto(server.url);
  await follower.getByTestId('follower').waitFor();
  assert.equal(await follower.getByTestId('duty-toggle').isEnabled(), false, 'read-only');

  await leader.getByTestId('duty-toggle').click();
  await eventually(async () => (await text(follower, 'duty-state')).includes('on duty'), {
    message: 'the follower to show the leader’s duty change',
  });
  await eventually(async () => (await text(follower, 'waiting')).includes('All sent'), { message: 'follower sees sync' });
  const hellos = () => server.logs.filter((line) => line.includes('hello')).length;
  assert.equal(hellos(), 1, 'only the leader connects');

  await leader.close();
  await eventually(async () => await follower.getByTestId('duty-toggle').isEnabled(), { message: 'takeover' });
  assert.equal(await follower.getByTestId('follower').count(), 0, 'the notice is gone');
  await eventually(async () => (await text(follower, 'connection')).includes('Online'), { message: 'new leader online' });
  await eventually(async () => hellos() === 2, { message: 'the new leader’s hello in the server log' });
  assert.match(await text(follower, 'duty-state'), /on duty/, 'the new leader reads the stored duty state');
  await follower.getByTestId('duty-toggle').click();
  const dutyChanges = async () =>
    (await getJson(server, '/api/drivers/demo-driver/records')).records
      .map((record) => record.status)
      .filter((status) => status === 'on_duty' || status === 'off_duty');
  await eventually(async () => (await dutyChanges()).length === 2, { message: 'both duty changes on the server' });
  assert.deepEqual(await dutyChanges(), ['on_duty', 'off_duty']);
});
