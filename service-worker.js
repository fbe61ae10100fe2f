// Enroute service worker: the offline app shell, updates on the driver's tap, job
// notifications, and the background flush of records when no app window is open.
//
// - Install: caches every file of this build (the list and the version are written by
//   scripts/precache.js at build time) in a cache named after the version.
// - Activate: deletes the caches of older versions. A new version waits until the app asks it
//   to take over (the driver tapped "Update"), so the app never reloads by itself mid-shift.
// - Fetch: navigations go to the network first and fall back to the cached index.html (every
//   app route works offline); the build's files come from the cache first. The WebSocket, the
//   APIs and anything else are never intercepted.
// It is never registered inside browser tests.

const VERSION = "dev"; // replaced at build time
const PRECACHE = []; // replaced at build time
const LAYOUT = null; // replaced at build time by device-layout.json: the app's IndexedDB layout
const CACHE = `enroute-${VERSION}`;
const NOT_INTERCEPTED = ["/ws", "/api/", "/sync/", "/dispatch", "/health", "/metrics"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith("enroute-") && name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("message", (event) => {
  const message = event.data || {};
  if (message.type === "skip-waiting") {
    self.skipWaiting();
  } else if (message.type === "version" && event.ports[0]) {
    event.ports[0].postMessage({ version: VERSION });
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (NOT_INTERCEPTED.some((prefix) => url.pathname === prefix || url.pathname.startsWith(prefix))) return;
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).catch(() =>
        caches.open(CACHE).then((cache) => cache.match("/index.html")).then((page) => page || Response.error()),
      ),
    );
    return;
  }
  if (PRECACHE.includes(url.pathname)) {
    event.respondWith(
      caches.open(CACHE).then((cache) => cache.match(url.pathname).then((cached) => cached || fetch(request))),
    );
  }
});

// A tapped notification: focus an open window of the app and ask it to show the job (it routes
// inside the app, keeping its state), or open a new window on it.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const client of windows) {
        if ("focus" in client) {
          client.postMessage({ type: "open", url });
          return client.focus();
        }
      }
      return self.clients.openWindow(url);
    }),
  );
});

// Background flush: records still waiting when every app window closed are sent when the
// network returns. The server applies them with the same de-duplication as over the WebSocket,
// so a record takes effect once whichever way it travels. An open app window sends its own.
self.addEventListener("sync", (event) => {
  if (event.tag === LAYOUT.sync_tag) event.waitUntil(flushOutbox());
});

const request = (idbRequest) =>
  new Promise((resolve, reject) => {
    idbRequest.onsuccess = () => resolve(idbRequest.result);
    idbRequest.onerror = () => reject(idbRequest.error);
  });

const done = (transaction) =>
  new Promise((resolve, reject) => {
    transaction.oncomplete = resolve;
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });

// The app keeps one database per server and driver (`enroute`, then `enroute:<driver>@<server>`):
// every one of them may hold records. Browsers with Background Sync (Chromium) can list them.
async function deviceDatabases() {
  if (!indexedDB.databases) return [LAYOUT.database];
  const names = (await indexedDB.databases()).map((database) => database.name);
  return names.filter((name) => name === LAYOUT.database || name.startsWith(LAYOUT.driver_database_prefix));
}

async function flushOutbox() {
  // A visible app window sends its own records. A hidden one may be frozen by the browser, so
  // the worker uploads anyway: the server keeps each record once, whoever delivers it first.
  const windows = await self.clients.matchAll({ type: "window" });
  if (windows.some((client) => client.visibilityState === "visible")) return;
  const failures = [];
  for (const name of await deviceDatabases()) {
    try {
      await flushDatabase(name);
    } catch (error) {
      failures.push(`${name}: ${error}`);
    }
  }
  if (failures.length > 0) throw new Error(`flush failed: ${failures.join("; ")}`); // the browser retries later
}

async function flushDatabase(name) {
  const { stores, meta_keys: keys } = LAYOUT;
  const database = await request(indexedDB.open(name));
  try {
    if (!database.objectStoreNames.contains(stores.outbox) || !database.objectStoreNames.contains(stores.meta)) return;
    const reading = database.transaction([stores.outbox, stores.meta], "readonly");
    const [texts, deviceText, countersText] = await Promise.all([
      request(reading.objectStore(stores.outbox).getAll()),
      request(reading.objectStore(stores.meta).get(keys.device)),
      request(reading.objectStore(stores.meta).get(keys.counters)),
    ]);
    await done(reading);
    if (!deviceText || texts.length === 0) return;
    const device = JSON.parse(deviceText);
    // Records numbered before the server confirmed the numbering may still be renumbered by the
    // app: only the app sends those.
    if (!JSON.parse(countersText || "{}").sequence_confirmed) return;
    const records = texts.map((text) => JSON.parse(text)).sort((a, b) => a.seq - b.seq);
    let ackedSeq = 0;
    const refused = [];
    for (let start = 0; start < records.length; start += 500) {
      const response = await fetch(device.records_url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ driver_id: device.driver_id, token: device.token, records: records.slice(start, start + 500) }),
      });
      if (!response.ok) throw new Error(`refused: HTTP ${response.status}`);
      const receipt = await response.json();
      ackedSeq = receipt.acked_seq;
      refused.push(...(receipt.rejected || []));
    }
    // Delete what the server holds, set aside what it refused (as the app does: the driver sees
    // them counted and can export them), and keep the numbering: the app numbers new records
    // after the highest number it ever gave, which these records may have been.
    const letters = refused
      .map((rejection) => ({ record: records.find((record) => record.seq === rejection.seq), reason: rejection.reason }))
      .filter((letter) => letter.record);
    const withLetters = letters.length > 0 && database.objectStoreNames.contains(stores.dead_letters);
    const writing = database.transaction(
      withLetters ? [stores.outbox, stores.meta, stores.dead_letters] : [stores.outbox, stores.meta],
      "readwrite",
    );
    const highest = records[records.length - 1].seq;
    const outbox = writing.objectStore(stores.outbox);
    outbox.delete(IDBKeyRange.upperBound(ackedSeq));
    let newLetters = 0;
    if (withLetters) {
      const deadLetters = writing.objectStore(stores.dead_letters);
      for (const letter of letters) {
        const known = await request(deadLetters.get(letter.record.id));
        if (!known) newLetters += 1;
        deadLetters.put(JSON.stringify({ record: letter.record, reason: letter.reason, rejected_at_unix_ms: Date.now() }), letter.record.id);
        outbox.delete(letter.record.seq);
      }
    }
    const metaStore = writing.objectStore(stores.meta);
    const counters = JSON.parse((await request(metaStore.get(keys.counters))) || "{}");
    counters.last_seq = Math.max(counters.last_seq || 0, highest);
    counters.acked_seq = Math.max(counters.acked_seq || 0, ackedSeq);
    counters.dead_letters_total = (counters.dead_letters_total || 0) + newLetters;
    metaStore.put(JSON.stringify(counters), keys.counters);
    await done(writing);
  } finally {
    database.close();
  }
}
