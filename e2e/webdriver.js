// A small W3C WebDriver client for the engines playwright-core cannot drive here: Firefox ESR
// through geckodriver and WebKitGTK's MiniBrowser through WebKitWebDriver. It speaks plain HTTP
// to the driver process it starts, so nothing is downloaded (no Selenium Manager) and nothing
// but Node.js is needed.

'use strict';

const { spawn } = require('node:child_process');
const { freePort } = require('./harness');

/** Raised when the driver answers a command with an error. */
class WebDriverError extends Error {
  constructor(command, value) {
    super(`${command}: ${value.error}: ${value.message}`);
    this.code = value.error;
  }
}

/**
 * Starts `binary args…` (a WebDriver server), waits until it answers `/status`, and returns its
 * process and base URL.
 */
async function startDriver(binary, args, { env = process.env, portArg = (port) => [`--port=${port}`] } = {}) {
  const port = await freePort();
  const child = spawn(binary, [...portArg(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const output = [];
  child.stdout.on('data', (chunk) => output.push(String(chunk)));
  child.stderr.on('data', (chunk) => output.push(String(chunk)));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${binary} exited with ${child.exitCode}: ${output.join('')}`);
    try {
      const response = await fetch(`${base}/status`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${binary} did not start: ${output.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, base, output };
}

/** One browser session on a WebDriver server. */
class WebDriverSession {
  constructor(base, id, driver) {
    this.base = base;
    this.id = id;
    this.driver = driver;
  }

  /** Starts a session with `capabilities` (W3C `alwaysMatch`). */
  static async create(driver, capabilities) {
    const response = await fetch(`${driver.base}/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ capabilities: { alwaysMatch: capabilities } }),
    });
    const body = await response.json();
    if (!response.ok || body.value.error) {
      throw new Error(`new session: ${JSON.stringify(body.value)}; driver said: ${driver.output.join('').slice(-2000)}`);
    }
    return new WebDriverSession(driver.base, body.value.sessionId, driver);
  }

  async command(method, path, body) {
    const response = await fetch(`${this.base}/session/${this.id}${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const value = text ? JSON.parse(text).value : null;
    if (!response.ok || (value && value.error)) throw new WebDriverError(`${method} ${path}`, value || { error: response.status, message: text });
    return value;
  }

  navigate(url) {
    return this.command('POST', '/url', { url });
  }

  currentUrl() {
    return this.command('GET', '/url');
  }

  refresh() {
    return this.command('POST', '/refresh', {});
  }

  title() {
    return this.command('GET', '/title');
  }

  /** Runs `script` (a function body using `arguments`) in the page and returns its value. */
  execute(script, args = []) {
    return this.command('POST', '/execute/sync', { script, args });
  }

  /**
   * Calls `source` (a function's source text) with `args` in the page, awaits what it returns
   * and gives back the value, or throws what it threw.
   */
  async call(source, args = []) {
    const script = `
      const done = arguments[arguments.length - 1];
      const args = Array.prototype.slice.call(arguments, 0, arguments.length - 1);
      Promise.resolve().then(() => (${source})(...args)).then(
        (value) => done({ ok: value === undefined ? null : value }),
        (error) => done({ error: String(error && error.stack || error) }),
      );`;
    const result = await this.command('POST', '/execute/async', { script, args });
    if (result && 'error' in result) throw new Error(`in the page: ${result.error}`);
    return result ? result.ok : null;
  }

  async findElement(css) {
    const found = await this.command('POST', '/element', { using: 'css selector', value: css });
    return Object.values(found)[0];
  }

  async click(css) {
    const element = await this.findElement(css);
    await this.command('POST', `/element/${element}/click`, {});
  }

  setTimeouts(timeouts) {
    return this.command('POST', '/timeouts', timeouts);
  }

  /** Opens a new tab and switches to it; returns its handle. */
  async newTab() {
    const { handle } = await this.command('POST', '/window/new', { type: 'tab' });
    await this.command('POST', '/window', { handle });
    return handle;
  }

  switchTo(handle) {
    return this.command('POST', '/window', { handle });
  }

  windowHandle() {
    return this.command('GET', '/window');
  }

  closeWindow() {
    return this.command('DELETE', '/window');
  }

  async quit() {
    try {
      await this.command('DELETE', '');
    } catch {
      // the browser is gone already
    }
  }
}

module.exports = { WebDriverSession, WebDriverError, startDriver, freePort };
