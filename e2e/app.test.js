// The release build, served by the real mock server, in headless Chromium.

'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { freePort, startServer, launchBrowser, eventually, seriousAccessibilityViolations } = require('./harness');

let server;
let browser;

before(async () => {
  server = await startServer({ port: await freePort() });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function connectionLabel(page) {
  return (await page.getByTestId('connection').textContent()) ?? '';
}

test('the app connects, shows Online, and the server logged the hello', async () => {
  const page = await browser.context.newPage();
  const consoleErrors = [];
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  await page.goto(server.url);
  await eventually(async () => (await connectionLabel(page)).includes('Online'), { message: 'Online' });
  await eventually(async () => server.logs.some((line) => line.includes('hello') && line.includes('demo-driver')), {
    message: 'hello in the server log',
  });
  assert.equal(await page.title(), 'Enroute');
  assert.deepEqual(consoleErrors, []);
  await page.close();
});

test('routes navigate in the app and load directly from the server', async () => {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  await page.getByRole('link', { name: 'Jobs' }).click();
  await page.waitForURL('**/assignments');
  assert.equal(await page.locator('h1').textContent(), 'Jobs');
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.waitForURL('**/settings');
  assert.equal(await page.locator('h1').textContent(), 'Settings');
  await page.reload();
  assert.equal(await page.locator('h1').textContent(), 'Settings', 'a reload on a route serves the app');
  await page.goto(`${server.url}/no/such/page`);
  assert.equal(await page.locator('h1').textContent(), 'Page not found');
  await page.getByRole('link', { name: 'Go to the duty screen' }).click();
  assert.equal(await page.locator('h1').textContent(), 'Duty');
  await page.close();
});

test('axe-core finds no serious or critical accessibility violations on any screen', async () => {
  const page = await browser.context.newPage();
  for (const route of ['/', '/assignments', '/settings', '/missing']) {
    await page.goto(`${server.url}${route}`);
    await page.locator('h1').waitFor();
    await eventually(async () => (await connectionLabel(page)).includes('Online'), { message: 'Online' });
    const violations = await seriousAccessibilityViolations(page);
    assert.deepEqual(violations, [], `violations on ${route}`);
  }
  for (const colorScheme of ['dark', 'light']) {
    await page.emulateMedia({ colorScheme });
    await page.goto(`${server.url}/settings`);
    await page.locator('h1').waitFor();
    assert.deepEqual(await seriousAccessibilityViolations(page), [], `violations in ${colorScheme} mode`);
  }
  await page.close();
});

test('a dropped connection shows as disconnected and recovers when the server returns', async () => {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  await eventually(async () => (await connectionLabel(page)).includes('Online'), { message: 'Online' });
  const port = server.port;
  await server.stop('SIGKILL');
  await eventually(async () => /Disconnected · retrying in \d+ s/.test(await connectionLabel(page)), {
    message: 'Disconnected',
  });
  server = await startServer({ port });
  await eventually(async () => (await connectionLabel(page)).includes('Online'), {
    timeoutMs: 15000,
    message: 'Online again',
  });
  await page.close();
});

test('the page is served with the right types', async () => {
  const response = await fetch(server.url);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^text\/html/);
  const html = await response.text();
  const wasm = html.match(/href="\/?([^"]+_bg\.wasm)"/);
  assert.ok(wasm, 'index.html links a wasm file');
  const wasmResponse = await fetch(`${server.url}/${wasm[1]}`);
  assert.equal(wasmResponse.headers.get('content-type'), 'application/wasm');
  const manifest = await (await fetch(`${server.url}/manifest.json`)).json();
  assert.equal(manifest.short_name, 'Enroute');
  assert.equal((await fetch(`${server.url}/health`)).status, 200);
});
