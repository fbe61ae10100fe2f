// Outbox benchmarks, in headless Chromium against the release app and the mock server:
//
// - Drain: 10,000 records queued while offline, then back online: time from the `online` event
//   until the server has acknowledged them all. Once with the app's batching (up to 100 records
//   per frame, 4 frames in flight) and once with one record per frame and one frame in flight
//   (`?debug&batch=1`), the naive baseline.
// - Enqueue: while the batched drain runs (3 times, ENROUTE_BENCH_OUTBOX_RUNS), two new records every 20 ms (100 in all); for each,
//   the time from the driver's action until the record is durable in IndexedDB. Main-thread tasks over 50 ms
//   (PerformanceObserver "longtask") are counted over the drain.

'use strict';

const path = require('node:path');
const fs = require('node:fs');
const { startServer, launchBrowser, eventually, scratchDirectory, getJson } = require('../e2e/harness');
const { writeSection, percentile } = require('./report');
const { startTrace, saveTrace } = require('./chrome-trace');

const RECORDS = Number(process.env.ENROUTE_BENCH_RECORDS || 10000);
const BATCHED_RUNS = Number(process.env.ENROUTE_BENCH_OUTBOX_RUNS || 3);

async function counts(page) {
  const element = page.getByTestId('waiting');
  return {
    waiting: Number(await element.getAttribute('data-waiting')),
    unsaved: Number(await element.getAttribute('data-unsaved')),
  };
}

async function drain(mode) {
  const directory = scratchDirectory('enroute-bench-');
  const server = await startServer({ db: path.join(directory, 'enroute.db') });
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/?debug${mode === 'one-per-message' ? '&batch=1' : ''}`);
    await eventually(async () => (await page.getByTestId('connection').textContent()).includes('Online'));
    await browser.context.setOffline(true);
    await eventually(async () => (await page.getByTestId('connection').textContent()).startsWith('Offline'));
    const queueStart = Date.now();
    await page.evaluate((count) => window.enrouteDebug.makeRecords(count), RECORDS);
    await eventually(async () => {
      const { waiting, unsaved } = await counts(page);
      return waiting >= RECORDS && unsaved === 0;
    }, { timeoutMs: 300000, intervalMs: 200, message: 'records queued and stored' });
    const queueMs = Date.now() - queueStart;

    // In the page: note the online event, watch the waiting count, count long tasks, and (in
    // batched mode) make two records every 20 ms while draining.
    await page.evaluate(async (produce) => {
      const bench = (window.enrouteBench = { longTasks: [], produced: 0, bareDuringDrain: [] });
      // For scale, during the drain: a bare IndexedDB transaction holding one put, in a
      // database of its own, 10 ms after each pair of records (the least any write can take
      // under the same load).
      bench.bareDatabase = produce
        ? await new Promise((resolve, reject) => {
            const request = indexedDB.open('enroute-bench-bare-during-drain', 1);
            request.onupgradeneeded = () => request.result.createObjectStore('records');
            request.onsuccess = () => resolve(request.result);
            request.onerror = () => reject(request.error);
          })
        : null;
      const bareWrite = () => {
        const started = performance.now();
        const transaction = bench.bareDatabase.transaction(['records'], 'readwrite');
        transaction.objectStore('records').put('x'.repeat(250), started);
        transaction.oncomplete = () => bench.bareDuringDrain.push(performance.now() - started);
      };
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) bench.longTasks.push(entry.duration);
      }).observe({ type: 'longtask' });
      window.enrouteDebug.clearStoreLatencies();
      window.addEventListener('online', () => {
        bench.onlineAt = performance.now();
        if (produce) {
          // Two duty changes (on, off) every 20 ms: one alone would repeat the duty the driver
          // already has, which makes no record (regression: the drain then ended before the
          // producer did, and the benchmark waited for ever).
          bench.madeAt = [];
          bench.timer = setInterval(() => {
            bench.madeAt.push(performance.now());
            performance.mark(`made ${bench.produced}`);
            window.enrouteDebug.makeRecords(2);
            bench.produced += 2;
            setTimeout(bareWrite, 10);
            if (bench.produced >= 100) clearInterval(bench.timer);
          }, 20);
        }
      }, { once: true });
      const element = document.querySelector('[data-testid=waiting]');
      bench.drained = new Promise((resolve) => {
        const observer = new MutationObserver(() => {
          const producing = produce && bench.produced < 100;
          if (bench.onlineAt !== undefined && !producing && element.getAttribute('data-waiting') === '0') {
            bench.drainedAt = performance.now();
            clearInterval(bench.timer);
            observer.disconnect();
            resolve();
          }
        });
        observer.observe(element, { attributes: true });
      });
    }, mode === 'batched');
    // ENROUTE_BENCH_OUTBOX_CDP_TRACE=FILE: a Chrome trace of the (last) batched drain, and the
    // producer's times (performance.now(), and marks of the same names in the trace) in
    // FILE.made.json, to find the slow enqueues in it.
    const traceFile = mode === 'batched' ? process.env.ENROUTE_BENCH_OUTBOX_CDP_TRACE : undefined;
    const cdp = traceFile ? await browser.context.newCDPSession(page) : null;
    if (cdp) {
      await startTrace(cdp, ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink.user_timing', 'toplevel', 'v8.execute', 'disabled-by-default-v8.cpu_profiler', 'IndexedDB', 'blink']);
    }
    await browser.context.setOffline(false);
    await page.waitForFunction(() => window.enrouteBench.drainedAt !== undefined, null, { timeout: 30 * 60 * 1000 });
    if (cdp) {
      await saveTrace(cdp, traceFile);
      fs.writeFileSync(`${traceFile}.made.json`, JSON.stringify(await page.evaluate(() => window.enrouteBench.madeAt)));
    }
    await page.waitForFunction(
      () => !window.enrouteBench.bareDatabase || window.enrouteBench.bareDuringDrain.length >= window.enrouteBench.produced / 2,
    );
    const result = await page.evaluate(() => ({
      drainMs: window.enrouteBench.drainedAt - window.enrouteBench.onlineAt,
      longTasks: window.enrouteBench.longTasks,
      produced: window.enrouteBench.produced,
      latencies: window.enrouteDebug.storeLatencies(),
      bareDuringDrain: window.enrouteBench.bareDuringDrain,
    }));
    // For scale: the same bare transaction (the database opened for the one during the drain),
    // in this same browser, at idle.
    const bare = mode === 'batched' ? await page.evaluate(async () => {
      const database = window.enrouteBench.bareDatabase;
      const times = [];
      for (let index = 0; index < 200; index += 1) {
        const started = performance.now();
        await new Promise((resolve, reject) => {
          const transaction = database.transaction(['records'], 'readwrite');
          transaction.objectStore('records').put('x'.repeat(250), index);
          transaction.oncomplete = resolve;
          transaction.onerror = () => reject(transaction.error);
        });
        times.push(performance.now() - started);
      }
      database.close();
      return times;
    }) : [];
    const history = await getJson(server, '/api/drivers/demo-driver/records');
    if (history.records.length < RECORDS) {
      throw new Error(`the server holds ${history.records.length} records, expected at least ${RECORDS}`);
    }
    return { ...result, queueMs, held: history.records.length, bare };
  } finally {
    await browser.close();
    await server.stop();
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

async function main() {
  // The batched drain BATCHED_RUNS times: the enqueue's p99 is then read over that many times
  // 100 records (one run's p99 is its second slowest record, and moved by several milliseconds
  // from run to run).
  const runs = [];
  for (let run = 0; run < BATCHED_RUNS; run += 1) {
    const result = await drain('batched');
    console.log('batched', { drainMs: result.drainMs, produced: result.produced, held: result.held });
    runs.push(result);
  }
  const drainTimes = runs.map((run) => run.drainMs);
  const batched = {
    drainMs: percentile(drainTimes, 0.5),
    produced: runs.reduce((total, run) => total + run.produced, 0),
    latencies: runs.flatMap((run) => run.latencies),
    longTasks: runs.flatMap((run) => run.longTasks),
    bare: runs[0].bare,
    bareDuringDrain: runs.flatMap((run) => run.bareDuringDrain),
    queueMs: runs[0].queueMs,
  };
  const naive = await drain('one-per-message');
  console.log('one per message', { drainMs: naive.drainMs, held: naive.held });
  const latencies = batched.latencies;
  const p50 = percentile(latencies, 0.5);
  const p99 = percentile(latencies, 0.99);
  const longest = Math.max(0, ...batched.longTasks);
  const speedup = naive.drainMs / batched.drainMs;
  const verdict = (ok) => (ok ? 'met' : '**not met**');
  writeSection('outbox', `
## Outbox: drain and enqueue

${RECORDS.toLocaleString('en')} status records queued while offline (through the app's intent path,
stored in IndexedDB), then the browser goes back online. Drain time runs from the page's
\`online\` event until the app shows nothing waiting, i.e. until the server (SQLite,
\`synchronous = FULL\`) has acknowledged every record (in batched mode, including the 100
records made during the drain). Same browser, server and machine for
both modes, one after the other; the batched drain ${BATCHED_RUNS} times (median drain time; runs:
${drainTimes.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(', ')}).

| mode | drain time | target |
|---|---:|---|
| batched (≤ 100 records or 64 KiB per frame, 4 frames in flight) | ${(batched.drainMs / 1000).toFixed(2)} s | ≤ 2 s: ${verdict(batched.drainMs <= 2000)} |
| one record per frame, one frame in flight | ${(naive.drainMs / 1000).toFixed(2)} s | |
| speed-up | ${speedup.toFixed(1)}× | ≥ 10×: ${verdict(speedup >= 10)} |

Enqueue while draining: during each batched drain the page made two records every 20 ms
(${batched.produced} records in the ${BATCHED_RUNS} runs); for each, the time from the driver's action to the record
being committed to IndexedDB, over ${latencies.length} records:

| p50 | p99 | max | target |
|---:|---:|---:|---|
| ${p50.toFixed(1)} ms | ${p99.toFixed(1)} ms | ${Math.max(...latencies).toFixed(1)} ms | p99 ≤ 5 ms: ${verdict(p99 <= 5)} |

For scale, a bare IndexedDB transaction holding one put, in the same browser at idle (200 in a
row, nothing else running): p50 ${percentile(batched.bare, 0.5).toFixed(1)} ms, p99 ${percentile(batched.bare, 0.99).toFixed(1)} ms,
max ${Math.max(...batched.bare).toFixed(1)} ms. The app's write is one such transaction: the new records and the counters, its
requests all made at once, so the browser's database is reached once, not once per request
(the deletion of acknowledged records waits for a quiet moment).

The same bare transaction made during the drains (10 ms after each pair of records, in a
database of its own, ${batched.bareDuringDrain.length} in the ${BATCHED_RUNS} runs), from the call to its \`complete\` event:
p50 ${percentile(batched.bareDuringDrain, 0.5).toFixed(1)} ms, p99 ${percentile(batched.bareDuringDrain, 0.99).toFixed(1)} ms, max ${Math.max(...batched.bareDuringDrain).toFixed(1)} ms. This is the least a write can
take in this browser under this load, with no app code in it. In the four runs of this
benchmark on 2026-11-28 (fd2f4d5 to 6a6730c, the write unchanged), enqueue p99 was 28.5, 12.1,
9.4 and 7.5 ms, and the bare transaction's during the same drains 13.6, 7.2, 4.2 and 3.0 ms: the
floor itself was over 5 ms in two of them, and the app's write took 2 to 2.5 times as long at
the tail. Its write holds more requests (each record and the counters), and every answer comes
back through the page's busy main thread (see below).

Where the rest goes (a Chrome trace of this benchmark, \`ENROUTE_BENCH_OUTBOX_CDP_TRACE=FILE node
bench/outbox.js\`, read on 2026-11-28): the page makes the transaction about 1–2 ms after the
driver's action (the app's own work for the record); the browser's database has run the puts
about 1 ms later; the slowest records are the ones whose answers then reach the page late:
request results arrive 3–8 ms after the database ran them, some in gaps where the page's main
thread is idle, while the drain keeps the browser's processes, the server and its fsyncs busy
on this machine's 2 cores. That hop is the browser's; the page's part is the first 1–2 ms.
Asking for the commit at once (\`IDBTransaction.commit()\`) let the database commit before the
page had taken the answers, but the \`complete\` event still came after them (p99 5.1, 10.3
and 10.4 ms in three single runs, against 7.7, 8.2 and 16.7 ms without), and listening for the transaction's end while
requests are pending lets a failure that fails several of them call the listener more than
once: not kept. Before the requests were made at once (one round trip each), p99 was 20.0 ms
(3c1ea1e).

Main-thread tasks over 50 ms during the drain: ${batched.longTasks.length} (longest ${longest.toFixed(0)} ms;
target none: ${verdict(batched.longTasks.length === 0)}).
Queueing the ${RECORDS.toLocaleString('en')} records offline took ${(batched.queueMs / 1000).toFixed(1)} s (not a target).
`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
