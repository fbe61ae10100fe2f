// The same end-to-end flows in the three browser engines a driver's phone may have: Chromium
// (Android), WebKit (every iPhone browser; here WebKitGTK's MiniBrowser) and Gecko (Firefox ESR).
// Chromium is driven by playwright-core; the others by WebDriver (`webdriver.js`), since
// playwright-core cannot drive Debian's Firefox or WebKit. Tests see one small page interface,
// whatever the engine.
//
// Positions: Chromium uses its geolocation emulation and Firefox its network provider pointed
// at a position server of the test's (both through the app's real Geolocation API path); WebKitGTK
// has no test provider, so its pages are opened with `?debug&positions=test` and fed through the
// debug bridge.
//
// `ENROUTE_ENGINES` (comma-separated; default all three) picks the engines.

'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { CHROMIUM_ARGS, DRIVER_TOKEN } = require('./harness');
const { WebDriverSession, startDriver } = require('./webdriver');

const ALL_ENGINES = ['chromium', 'firefox', 'webkit'];
const ENGINES = (process.env.ENROUTE_ENGINES || ALL_ENGINES.join(','))
  .split(',')
  .map((engine) => engine.trim())
  .filter(Boolean);
for (const engine of ENGINES) {
  if (!ALL_ENGINES.includes(engine)) throw new Error(`unknown engine ${engine} (chromium, firefox, webkit)`);
}

const FIREFOX = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';
const GECKODRIVER = process.env.GECKODRIVER || 'geckodriver';
const WEBKIT_DRIVER = process.env.WEBKIT_WEBDRIVER || 'WebKitWebDriver';
const PHONE = { width: 390, height: 844 };

let display = null;

/** An X display for WebKitGTK: `$DISPLAY` if set, else an Xvfb of our own for this process. */
async function ensureDisplay() {
  if (process.env.DISPLAY) return process.env.DISPLAY;
  if (display) return display;
  const xvfb = spawn('Xvfb', ['-displayfd', '1', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  process.on('exit', () => xvfb.kill('SIGKILL'));
  const number = await new Promise((resolve, reject) => {
    let text = '';
    xvfb.once('error', reject);
    xvfb.once('exit', (code) => reject(new Error(`Xvfb exited with ${code}`)));
    xvfb.stdout.on('data', (chunk) => {
      text += chunk;
      if (text.includes('\n')) resolve(text.trim());
    });
  });
  display = `:${number}`;
  return display;
}

/**
 * Serves the position Firefox's network geolocation provider asks for (it asks again every half
 * second, with its cache turned off), so the test moves the browser with `set()`.
 */
async function startPositionServer() {
  let current = { latitude: 48.1374, longitude: 11.5755, accuracy: 5 };
  const server = http.createServer((request, response) => {
    request.resume();
    response.setHeader('Content-Type', 'application/json');
    response.end(JSON.stringify({ location: { lat: current.latitude, lng: current.longitude }, accuracy: current.accuracy }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/geo`,
    set(position) {
      current = { accuracy: 5, ...position };
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Query parameters every page of `engine` is opened with. */
function engineQuery(engine) {
  return engine === 'webkit' ? 'debug&positions=test' : 'debug';
}

/** `url` with the engine's query parameters added. */
function withEngineQuery(engine, url) {
  const query = engineQuery(engine);
  return url.includes('?') ? `${url}&${query}` : `${url}?${query}`;
}

// ---------------------------------------------------------------------------------------------
// Chromium through playwright-core.

class PlaywrightPage {
  constructor(engine, page) {
    this.engine = engine;
    this.page = page;
    this.errors = [];
    page.on('pageerror', (error) => this.errors.push(String(error)));
  }
  async goto(url) {
    await this.page.goto(withEngineQuery(this.engine.name, url));
  }
  async reload() {
    await this.page.reload();
  }
  async title() {
    return this.page.title();
  }
  evaluate(fn, ...args) {
    return this.page.evaluate(({ source, args }) => new Function(`return (${source})`)()(...args), { source: fn.toString(), args });
  }
  async click(selector, { text } = {}) {
    const locator = text === undefined ? this.page.locator(selector) : this.page.locator(selector, { hasText: text });
    await locator.first().click();
  }
  async close() {
    await this.page.close();
  }
}

class ChromiumEngine {
  static async launch({ position }) {
    const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enroute-chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: PHONE,
      isMobile: true,
      hasTouch: true,
      geolocation: position,
    });
    return new ChromiumEngine(context, userDataDir);
  }
  constructor(context, userDataDir) {
    this.name = 'chromium';
    this.context = context;
    this.userDataDir = userDataDir;
  }
  async allowOrigin(origin) {
    await this.context.grantPermissions(['geolocation'], { origin });
  }
  async newPage() {
    return new PlaywrightPage(this, await this.context.newPage());
  }
  async setPosition(_page, position) {
    await this.context.setGeolocation({ accuracy: 5, ...position });
  }
  async close() {
    await this.context.close();
    fs.rmSync(this.userDataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Firefox and WebKitGTK through WebDriver. A session has one window; `newPage` opens a tab.

const IN_PAGE_ERRORS = `
  if (!window.__enrouteErrors) {
    window.__enrouteErrors = [];
    window.addEventListener('error', (event) => window.__enrouteErrors.push(String(event.message)));
    window.addEventListener('unhandledrejection', (event) => window.__enrouteErrors.push(String(event.reason)));
  }`;

class WebDriverPage {
  constructor(engine, handle) {
    this.engine = engine;
    this.handle = handle;
    this.errors = [];
  }
  get session() {
    return this.engine.session;
  }
  async focus() {
    if (this.engine.focused !== this.handle) {
      await this.session.switchTo(this.handle);
      this.engine.focused = this.handle;
    }
  }
  async goto(url) {
    await this.focus();
    await this.session.navigate(withEngineQuery(this.engine.name, url));
    await this.session.execute(IN_PAGE_ERRORS);
  }
  /**
   * Reloads as a driver does. Not WebDriver's refresh: geckodriver's bypasses the cache, and a
   * page reloaded that way is, by the Service Worker spec, not controlled by its worker.
   */
  async reload() {
    await this.focus();
    await this.session.execute('window.__enrouteOldDocument = true; setTimeout(() => location.reload(), 0);');
    const deadline = Date.now() + 30000;
    for (;;) {
      const loaded = await this.session
        .execute('return !window.__enrouteOldDocument && document.readyState === "complete";')
        .catch(() => false);
      if (loaded) break;
      if (Date.now() > deadline) throw new Error('the page did not reload within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.session.execute(IN_PAGE_ERRORS);
  }
  async title() {
    await this.focus();
    return this.session.title();
  }
  async evaluate(fn, ...args) {
    await this.focus();
    return this.session.call(fn.toString(), args);
  }
  async click(selector, { text } = {}) {
    await this.focus();
    const element = await this.session.execute(
      `const [selector, text] = arguments;
       return [...document.querySelectorAll(selector)].find((element) => text === null || element.textContent.includes(text)) || null;`,
      [selector, text === undefined ? null : text],
    );
    if (!element) throw new Error(`nothing to click: ${selector}${text === undefined ? '' : ` with ${text}`}`);
    await this.session.command('POST', `/element/${Object.values(element)[0]}/click`, {});
  }
  async close() {
    await this.focus();
    await this.session.closeWindow();
    this.engine.focused = null;
  }
}

class WebDriverEngine {
  static async launch(name, { position }) {
    if (name === 'firefox') {
      const positions = await startPositionServer();
      if (position) positions.set(position);
      const driver = await startDriver(GECKODRIVER, [], { portArg: (port) => ['--port', String(port)] });
      const session = await WebDriverSession.create(driver, {
        browserName: 'firefox',
        'moz:firefoxOptions': {
          binary: FIREFOX,
          args: ['-headless'],
          prefs: {
            // Positions from the test's server, through Firefox's own network provider.
            'geo.enabled': true,
            'geo.provider.testing': true,
            'geo.provider.use_geoclue': false,
            'geo.provider.use_gpsd': false,
            'geo.provider.network.url': positions.url,
            'geo.provider.network.scan': false,
            'geo.provider.network.timeToWaitBeforeSending': 500,
            'geo.provider.network.debug.requestCache.enabled': false,
            'geo.prompt.testing': true,
            'geo.prompt.testing.allow': true,
            // Answer the storage and notification questions as a driver who allowed them.
            'permissions.default.persistent-storage': 1,
            'permissions.default.desktop-notification': 1,
            // Nothing outside loopback.
            'network.captive-portal-service.enabled': false,
            'browser.safebrowsing.malware.enabled': false,
            'browser.safebrowsing.phishing.enabled': false,
            'app.update.enabled': false,
          },
        },
      });
      return new WebDriverEngine('firefox', driver, session, positions);
    }
    const env = { ...process.env, DISPLAY: await ensureDisplay() };
    const driver = await startDriver(WEBKIT_DRIVER, [], { env });
    const session = await WebDriverSession.create(driver, {});
    return new WebDriverEngine('webkit', driver, session, null);
  }
  constructor(name, driver, session, positions) {
    this.name = name;
    this.driver = driver;
    this.session = session;
    this.positions = positions;
    this.firstPageUsed = false;
    this.focused = null;
  }
  async allowOrigin() {}
  async newPage() {
    await this.session.setTimeouts({ script: 30000, pageLoad: 60000 });
    let handle;
    if (!this.firstPageUsed) {
      this.firstPageUsed = true;
      handle = await this.session.windowHandle();
      await this.session.command('POST', '/window/rect', PHONE).catch(() => {});
    } else {
      handle = await this.session.newTab();
    }
    this.focused = handle;
    return new WebDriverPage(this, handle);
  }
  async setPosition(page, position) {
    if (this.positions) {
      this.positions.set(position);
    } else {
      await page.evaluate(
        (lat, lon, accuracy) => window.enrouteDebug.setPosition(lat, lon, accuracy),
        position.latitude,
        position.longitude,
        position.accuracy ?? 5,
      );
    }
  }
  async close() {
    await this.session.quit();
    this.driver.child.kill('SIGTERM');
    await new Promise((resolve) => {
      if (this.driver.child.exitCode !== null) return resolve();
      const timer = setTimeout(() => {
        this.driver.child.kill('SIGKILL');
        resolve();
      }, 5000);
      this.driver.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await this.positions?.close();
  }
}

/**
 * Launches `engine` with a phone-sized window. `position` is where the phone is at first.
 * The browser starts signed out: tests open the sign-in link, as a driver does.
 */
async function launchEngine(engine, { position } = {}) {
  if (engine === 'chromium') return ChromiumEngine.launch({ position });
  return WebDriverEngine.launch(engine, { position });
}

// ---------------------------------------------------------------------------------------------
// Reading the page, the same way in every engine.

/** The text of the first element matching `selector`, or null. */
const text = (page, selector) =>
  page.evaluate((selector) => document.querySelector(selector)?.textContent ?? null, selector);

/** An attribute of the first element matching `selector`, or null. */
const attribute = (page, selector, name) =>
  page.evaluate((selector, name) => document.querySelector(selector)?.getAttribute(name) ?? null, selector, name);

/** How many elements match `selector`. */
const count = (page, selector) => page.evaluate((selector) => document.querySelectorAll(selector).length, selector);

const testid = (id) => `[data-testid=${id}]`;

/** The sign-in link the server prints, for the demo driver. */
const signInPath = () => `/?driver_id=demo-driver&token=${DRIVER_TOKEN}`;

module.exports = { ENGINES, launchEngine, text, attribute, count, testid, signInPath, ensureDisplay };
