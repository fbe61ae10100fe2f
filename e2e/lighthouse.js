// Runs Lighthouse 11 (the last version with a PWA category) against a URL in the machine's
// Chromium, with the flags this machine needs and a fresh profile. Used by the PWA test and by
// scripts/bench (performance on Lighthouse's default mobile settings).

'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { CHROMIUM_ARGS } = require('./harness');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * The Lighthouse result (`lhr`) for `url`, limited to `categories` (e.g. ['pwa']).
 * `throttlingMethod`: Lighthouse's default 'simulate' (a fast load, then a model of a slow one)
 * or 'devtools' (the page is loaded on a throttled network and CPU).
 */
async function lighthouseReport(url, categories, { throttlingMethod = 'simulate' } = {}) {
  const { default: lighthouse } = await import('lighthouse');
  const chromeLauncher = await import('chrome-launcher');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enroute-lighthouse-'));
  const chrome = await chromeLauncher.launch({
    chromePath: CHROMIUM,
    chromeFlags: CHROMIUM_ARGS,
    userDataDir,
    logLevel: 'silent',
  });
  try {
    const result = await lighthouse(url, { port: chrome.port, output: 'json', logLevel: 'error', onlyCategories: categories, throttlingMethod });
    if (result.lhr.runtimeError) throw new Error(`lighthouse: ${result.lhr.runtimeError.code} ${result.lhr.runtimeError.message}`);
    return result.lhr;
  } finally {
    await chrome.kill();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

module.exports = { lighthouseReport };
