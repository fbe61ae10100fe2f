// Chrome traces of a page for the benchmarks' diagnostic options (ENROUTE_BENCH_*_CDP_TRACE):
// started and saved over the page's DevTools protocol session. The file opens in
// chrome://tracing or Perfetto. Nothing here is measured or reported.

'use strict';

const fs = require('node:fs');

/** Starts tracing `categories` on `cdp` (a page's CDPSession). */
async function startTrace(cdp, categories) {
  await cdp.send('Tracing.start', { transferMode: 'ReturnAsStream', traceConfig: { includedCategories: categories } });
}

/** Stops the trace started on `cdp` and writes it to `file`. */
async function saveTrace(cdp, file) {
  const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
  await cdp.send('Tracing.end');
  const { stream } = await done;
  const parts = [];
  for (;;) {
    const chunk = await cdp.send('IO.read', { handle: stream, size: 1 << 20 });
    parts.push(chunk.base64Encoded ? Buffer.from(chunk.data, 'base64').toString() : chunk.data);
    if (chunk.eof) break;
  }
  await cdp.send('IO.close', { handle: stream });
  fs.writeFileSync(file, parts.join(''));
}

module.exports = { startTrace, saveTrace };
