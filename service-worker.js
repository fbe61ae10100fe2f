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
const CACHE = `enroute-${VERSION}`;
const SYNC_TAG = "enroute-flush";
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
  if (event.tag === SYNC_TAG) event.waitUntil(flushOutbox());
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

async function flushOutbox() {
  // A visible app window sends its own records. A hidden one may be frozen by the browser, so
  // the worker uploads anyway: the server keeps each record once, whoever delivers it first.
  const windows = await self.clients.matchAll({ type: "window" });
  if (windows.some((client) => client.visibilityState === "visible")) return;
  const database = await request(indexedDB.open("enroute"));
  try {
    if (!database.objectStoreNames.contains("outbox") || !database.objectStoreNames.contains("meta")) return;
    const reading = database.transaction(["outbox", "meta"], "readonly");
    const [texts, deviceText] = await Promise.all([
      request(reading.objectStore("outbox").getAll()),
      request(reading.objectStore("meta").get("device")),
    ]);
    await done(reading);
    if (!deviceText || texts.length === 0) return;
    const device = JSON.parse(deviceText);
    const stored = JSON.parse((await request(database.transaction(["meta"], "readonly").objectStore("meta").get("outbox"))) || "{}");
    // Records numbered before the server confirmed the numbering may still be renumbered by the
    // app: only the app sends those.
    if (!stored.sequence_confirmed) return;
    const records = texts.map((text) => JSON.parse(text)).sort((a, b) => a.seq - b.seq);
    let ackedSeq = 0;
    for (let start = 0; start < records.length; start += 500) {
      const response = await fetch(device.records_url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ driver_id: device.driver_id, token: device.token, records: records.slice(start, start + 500) }),
      });
      if (!response.ok) throw new Error(`flush refused: HTTP ${response.status}`); // the browser retries later
      ackedSeq = (await response.json()).acked_seq;
    }
    // Delete what the server holds, and keep the numbering: the app numbers new records after
    // the highest number it ever gave, which these records may have been.
    const writing = database.transaction(["outbox", "meta"], "readwrite");
    const highest = records[records.length - 1].seq;
    writing.objectStore("outbox").delete(IDBKeyRange.upperBound(ackedSeq));
    const meta = writing.objectStore("meta");
    const counters = JSON.parse((await request(meta.get("outbox"))) || "{}");
    counters.last_seq = Math.max(counters.last_seq || 0, highest);
    counters.acked_seq = Math.max(counters.acked_seq || 0, ackedSeq);
    meta.put(JSON.stringify(counters), "outbox");
    await done(writing);
  } finally {
    database.close();
  }
}
