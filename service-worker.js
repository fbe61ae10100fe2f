// Enroute service worker.
//
// Takes control of the page as soon as it is installed, and opens the app on the job a tapped
// notification is about. It does not intercept any request: every fetch goes to the network
// exactly as without a worker. It is never registered inside browser tests.

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
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
