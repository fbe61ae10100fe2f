// Push benchmark: a job created through the dispatcher API until it is visible in the app's DOM
// (the offer banner names it), 200 times one after the other, on loopback, in headless Chromium
// against the release app. Both ends read the same machine clock.

'use strict';

const { startServer, launchBrowser, eventually, postJson } = require('../e2e/harness');
const { writeSection, percentile } = require('./report');

const PUSHES = Number(process.env.ENROUTE_BENCH_PUSHES || 200);

async function main() {
  const server = await startServer();
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(server.url);
    await eventually(async () => (await page.getByTestId('connection').textContent()).includes('Online'));
    // In the page: note when each job's pickup address first appears in the offer banner.
    await page.evaluate(() => {
      window.seenAt = {};
      new MutationObserver(() => {
        const route = document.querySelector('[data-testid=offer-route]');
        const match = route && route.textContent.match(/Bench pickup (\d+)/);
        if (match && !(match[1] in window.seenAt)) window.seenAt[match[1]] = Date.now();
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const latencies = [];
    for (let index = 0; index < PUSHES; index += 1) {
      const now = Date.now();
      const sentAt = Date.now();
      await postJson(server, '/api/assignments', {
        driver_id: 'demo-driver',
        pickup: { address: `Bench pickup ${index}`, lat: 48.1, lon: 11.5 },
        dropoff: { address: 'Bench drop-off', lat: 48.2, lon: 11.6 },
        window: { from_ms: now, to_ms: now + 3600000 },
      });
      const seenAt = await eventually(() => page.evaluate((key) => window.seenAt[key], String(index)), {
        intervalMs: 2,
        message: `push ${index} visible`,
      });
      latencies.push(seenAt - sentAt);
    }
    const p50 = percentile(latencies, 0.5);
    const p95 = percentile(latencies, 0.95);
    console.log({ p50, p95, max: Math.max(...latencies) });
    writeSection('push', `
## Push: offered job to visible

${PUSHES} jobs offered one after the other through the dispatcher API (\`POST /api/assignments\`),
each timed from just before the request until the app's offer banner shows it (a
MutationObserver in the page; both ends read the same clock). Release app in headless Chromium,
mock server on loopback; the time includes storing the job and its event in SQLite
(\`synchronous = FULL\`), the push, decoding, and rendering (the app's UI updates at most ten
times a second).

| pushes | p50 | p95 | max | target |
|---:|---:|---:|---:|---|
| ${PUSHES} | ${p50} ms | ${p95} ms | ${Math.max(...latencies)} ms | p95 ≤ 50 ms: ${p95 <= 50 ? 'met' : '**not met**'} |
`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
