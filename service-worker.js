// Enroute service worker.
//
// For now it only takes control of the page as soon as it is installed, so that the offline
// shell (precache, network-first navigations, background flush) can be added without changing
// how the app registers it. It does not intercept any request yet: every fetch goes to the
// network exactly as without a worker. It is never registered inside browser tests.

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});
