// Sign-in and the Content Security Policy, with the release build and the real server.

'use strict';

const { test, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, launchBrowser, eventually, postJson, DRIVER_TOKEN } = require('./harness');

const cleanups = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()();
});

async function connectionLabel(page) {
  return (await page.getByTestId('connection').textContent()) ?? '';
}

function refusedSignIns(server) {
  return server.logs.filter((line) => line.includes('refused a sign-in')).length;
}

test('a wrong token shows sign-in rejected, makes no reconnect storm, and a corrected one signs in', async () => {
  const server = await startServer();
  cleanups.push(() => server.stop());
  const browser = await launchBrowser({ credentials: { driver_id: 'demo-driver', token: 'not-the-demo-driver-token' } });
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => assert.fail(`page error: ${error}`));
  await page.goto(`${server.url}/`);
  await eventually(async () => (await connectionLabel(page)).includes('Sign-in rejected'), { message: 'Sign-in rejected' });
  assert.match(await page.getByTestId('refused').textContent(), /Check them in Settings/);
  // The backoff would have tried about five times in ten seconds; a refused sign-in is not retried.
  await page.waitForTimeout(10000);
  assert.equal(refusedSignIns(server), 1, 'one attempt in ten seconds');
  assert.match(await connectionLabel(page), /Sign-in rejected/);

  // Reconnect with the same wrong token: exactly one more attempt.
  await page.getByTestId('reconnect').click();
  await eventually(async () => refusedSignIns(server) === 2, { message: 'the second attempt' });
  await page.waitForTimeout(2000);
  assert.equal(refusedSignIns(server), 2);

  await page.getByTestId('refused').getByRole('link', { name: 'Settings' }).click();
  await page.locator('#token').fill(DRIVER_TOKEN);
  await page.getByRole('button', { name: 'Save and reconnect' }).click();
  await eventually(async () => (await connectionLabel(page)).includes('Online'), { message: 'Online with the right token' });
  assert.equal(refusedSignIns(server), 2);
});

test('the sign-in link the server prints signs the app in and leaves the address bar', async () => {
  const server = await startServer();
  cleanups.push(() => server.stop());
  const browser = await launchBrowser({ credentials: null });
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/`);
  await eventually(async () => (await connectionLabel(page)).includes('Sign-in rejected'), { message: 'signed out at first' });
  const line = server.printed.find((printed) => printed.includes('?driver_id=demo-driver&token='));
  assert.ok(line, `the server printed a sign-in link: ${server.printed.join('\n')}`);
  await page.goto(line.slice(line.indexOf('http')).trim());
  await eventually(async () => (await connectionLabel(page)).includes('Online'), { message: 'Online after the link' });
  assert.equal(new URL(page.url()).search, '', 'the token is not left in the address bar');
  const saved = JSON.parse(await page.evaluate(() => localStorage.getItem('enroute.settings')));
  assert.equal(saved.token, DRIVER_TOKEN);
  await page.reload();
  await eventually(async () => (await connectionLabel(page)).includes('Online'), { message: 'still signed in after a reload' });
});

test('every screen runs under the Content Security Policy without a violation', async () => {
  const server = await startServer();
  cleanups.push(() => server.stop());
  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  await browser.context.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) =>
      window.cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI} (${event.sourceFile}:${event.lineNumber})`),
    );
  });
  const page = await browser.context.newPage();
  const violations = [];
  const collect = async () => violations.push(...(await page.evaluate(() => window.cspViolations)));
  const refusals = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) refusals.push(message.text());
  });
  const response = await page.goto(`${server.url}/?debug`);
  const policy = response.headers()['content-security-policy'];
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval';/);
  assert.doesNotMatch(await page.content(), /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in the page');
  await eventually(async () => (await connectionLabel(page)).includes('Online'), { message: 'Online' });
  const job = {
    id: 'csp-job-1',
    driver_id: 'demo-driver',
    pickup: { address: 'Pickup street 1', lat: 48.1374, lon: 11.5755 },
    dropoff: { address: 'Drop-off street 1', lat: 48.16, lon: 11.5863 },
    window: { from_ms: Date.now(), to_ms: Date.now() + 3600000 },
    notes: '<img src=x onerror="window.hacked=1">',
    accept_by_ms: Date.now() + 600000,
  };
  await postJson(server, '/api/assignments', job);
  await page.getByTestId('offer-banner').waitFor();
  for (const name of ['Jobs', 'Settings', 'Duty']) {
    await page.getByRole('link', { name }).first().click();
    await page.waitForTimeout(300);
  }
  await collect();
  await page.goto(`${server.url}/assignments/${job.id}`);
  await eventually(async () => (await page.getByTestId('job-history').locator('li').count()) > 0, { message: 'the job' });
  await collect();
  await page.goto(`${server.url}/no/such/page`);
  await page.locator('h1').waitFor();
  await collect();
  assert.deepEqual(violations, [], 'no CSP violations');
  assert.deepEqual(refusals, [], 'no CSP refusals in the console');
  assert.equal(await page.evaluate(() => window.hacked), undefined);
});

// Regression (issue: the CSP's connect-src 'self' made the "Server address" setting useless):
// the server that serves the app names the other servers the app may reach (--connect-origin),
// and only those.
test('the Server address setting reaches a server the serving server allows, and no other', async () => {
  const other = await startServer({ dist: '/nonexistent' });
  cleanups.push(() => other.stop());
  const otherOrigin = other.url.replace('http://', 'ws://');
  const serving = await startServer({ extraArgs: ['--connect-origin', otherOrigin] });
  cleanups.push(() => serving.stop());
  const csp = (await fetch(serving.url)).headers.get('content-security-policy');
  assert.match(csp, new RegExp(`connect-src 'self' ${otherOrigin} ${other.url};`));
  const credentials = { driver_id: 'demo-driver', token: DRIVER_TOKEN, server_url: `${otherOrigin}/ws` };
  const browser = await launchBrowser({ credentials });
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(serving.url);
  await eventually(async () => (await connectionLabel(page)).includes('Online'), { message: 'Online on the other server' });
  assert.ok(other.logs.some((line) => line.includes('hello') && line.includes('demo-driver')), 'signed in there');
  assert.ok(!serving.logs.some((line) => line.includes('hello')), 'not on the serving one');

  // A server that is not allowed stays out of reach, and the driver sees it.
  const plain = await startServer();
  cleanups.push(() => plain.stop());
  const blocked = await launchBrowser({ credentials });
  cleanups.push(() => blocked.close());
  const blockedPage = await blocked.context.newPage();
  const violations = [];
  blockedPage.on('console', (message) => /Content Security Policy/.test(message.text()) && violations.push(message.text()));
  await blockedPage.goto(plain.url);
  await eventually(async () => /Disconnected/.test(await connectionLabel(blockedPage)), { message: 'Disconnected' });
  assert.ok(violations.length > 0, 'the browser refused the connection');
});
