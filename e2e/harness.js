// Shared helpers for the end-to-end tests: start the real mock server (the debug binary built by
// scripts/test) on a port, and Chromium through playwright-core with the flags this machine needs.

'use strict';

const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..');
const SERVER_BIN = process.env.ENROUTE_SERVER_BIN || path.join(ROOT, 'target/debug/enroute-mock-server');
const REPLAY_BIN = process.env.ENROUTE_REPLAY_BIN || path.join(ROOT, 'target/debug/enroute-replay');
const TRACES = process.env.ENROUTE_TRACES_DIR || path.join(ROOT, '..', 'shared', 'traces');
const DISPATCHER_TOKEN = 'e2e-dispatcher-token';
// The demo driver's token on every test server, and the credentials every test browser starts
// with (as if the driver had opened the sign-in link the server prints).
const DRIVER_TOKEN = 'e2e-demo-driver-token';
const DRIVER_CREDENTIALS = { driver_id: 'demo-driver', token: DRIVER_TOKEN };
const DIST = process.env.ENROUTE_DIST || path.join(ROOT, 'dist');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// Chromium runs as root here; without the background-networking flags it keeps trying to reach
// Google's hosts, which this machine's closed network refuses.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** A free TCP port on 127.0.0.1, so a restarted server can come back on the same port. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the mock server. Resolves once it prints its address. `extraArgs` go to the binary.
 * The returned handle collects the server's log lines (stderr) in `logs`.
 */
async function startServer({ port = 0, dist = DIST, db = ':memory:', extraArgs = [] } = {}) {
  if (!fs.existsSync(SERVER_BIN)) {
    throw new Error(`no server binary at ${SERVER_BIN}: run scripts/test, which builds it`);
  }
  const args = [
    '--addr', `127.0.0.1:${port}`, '--dist', dist, '--db', db,
    '--dispatcher-token', DISPATCHER_TOKEN, '--demo-token', DRIVER_TOKEN,
  ];
  const child = spawn(SERVER_BIN, [...args, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
  });
  const logs = [];
  const printed = [];
  child.stdout.on('data', (chunk) => printed.push(...String(chunk).split('\n').filter(Boolean)));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => logs.push(...chunk.split('\n').filter(Boolean)));
  const url = await new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}${logs.join('\n')}`)), 15000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = output.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${output}${logs.join('\n')}`));
    });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    url,
    port: Number(new URL(url).port),
    logs,
    /** What the server printed (stdout): its address and the demo driver's sign-in link. */
    printed,
    child,
    /** Stops the server with `signal` (SIGKILL simulates a crash) and waits until it is gone. */
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A fresh directory for a test's files (databases), removed by the caller. */
function scratchDirectory(prefix = 'enroute-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Fetches JSON from the server's dispatcher API. */
async function getJson(server, apiPath) {
  const response = await fetch(`${server.url}${apiPath}`, { headers: { Authorization: `Bearer ${DISPATCHER_TOKEN}` } });
  if (!response.ok) throw new Error(`${apiPath}: HTTP ${response.status}`);
  return response.json();
}

/** Posts JSON to the server's dispatcher API; returns the parsed answer (throws on errors). */
async function postJson(server, apiPath, body) {
  const response = await fetch(`${server.url}${apiPath}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${DISPATCHER_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${apiPath}: HTTP ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Launches headless Chromium with a fresh profile directory. `options` go to the context. */
async function launchBrowser({ credentials = DRIVER_CREDENTIALS, ...options } = {}) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enroute-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    ...options,
  });
  // Signed in from the first page load unless a test saved other settings; `credentials: null`
  // starts signed out.
  if (credentials) {
    await context.addInitScript((saved) => {
      try {
        if (!localStorage.getItem('enroute.settings')) localStorage.setItem('enroute.settings', saved);
      } catch (error) {
        // Pages without storage (about:blank) have nothing to sign in.
      }
    }, JSON.stringify(credentials));
  }
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` (an async function returning truthy) until it holds or `timeoutMs` passes. */
async function eventually(check, { timeoutMs = 10000, intervalMs = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Runs axe-core on the page and returns its serious and critical violations. */
async function seriousAccessibilityViolations(page) {
  // Evaluated through the DevTools protocol: the app's CSP refuses an added inline script tag.
  await page.evaluate(fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(' ')),
    }));
}

/**
 * Fires the app's Background Sync (`enroute-flush`) as the browser would, from a page of no app
 * origin (no app window open). Chromium only (DevTools protocol).
 */
async function fireBackgroundSync(browser, server) {
  const blank = await browser.context.newPage();
  const cdp = await browser.context.newCDPSession(blank);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (event) => registrations.push(...event.registrations));
  await cdp.send('ServiceWorker.enable');
  const registration = await eventually(() => registrations.find((entry) => entry.scopeURL.startsWith(server.url)), {
    message: 'the app registration',
  });
  await cdp.send('ServiceWorker.dispatchSyncEvent', {
    origin: server.url,
    registrationId: registration.registrationId,
    tag: 'enroute-flush',
    lastChance: false,
  });
  await blank.close();
}

module.exports = {
  fireBackgroundSync,
  CHROMIUM_ARGS,
  DIST,
  REPLAY_BIN,
  TRACES,
  scratchDirectory,
  getJson,
  postJson,
  DISPATCHER_TOKEN,
  freePort,
  startServer,
  launchBrowser,
  DRIVER_TOKEN,
  eventually,
  seriousAccessibilityViolations,
};
