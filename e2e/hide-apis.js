// Served only by the missing-API end-to-end tests (missing-apis.test.js copies the build and
// loads this before the app): removes the browser APIs named in `?hide=a,b` (kept for the
// tab's later pages in sessionStorage) before the app starts, as an engine without them would
// be. `window.__enrouteHidden` lists what was removed.
(function () {
  'use strict';
  const REMOVERS = {
    vibrate: () => delete Navigator.prototype.vibrate,
    Notification: () => delete window.Notification,
    locks: () => delete Navigator.prototype.locks,
    wakeLock: () => delete Navigator.prototype.wakeLock,
    SyncManager: () => {
      delete window.SyncManager;
      if (window.ServiceWorkerRegistration) delete ServiceWorkerRegistration.prototype.sync;
    },
    BroadcastChannel: () => delete window.BroadcastChannel,
    AudioContext: () => {
      delete window.AudioContext;
      delete window.webkitAudioContext;
    },
    permissions: () => delete Navigator.prototype.permissions,
    storage: () => delete Navigator.prototype.storage,
  };
  const PRESENT = {
    vibrate: () => 'vibrate' in navigator,
    Notification: () => 'Notification' in window,
    locks: () => 'locks' in navigator,
    wakeLock: () => 'wakeLock' in navigator,
    SyncManager: () => 'SyncManager' in window || (window.ServiceWorkerRegistration && 'sync' in ServiceWorkerRegistration.prototype),
    BroadcastChannel: () => 'BroadcastChannel' in window,
    AudioContext: () => 'AudioContext' in window || 'webkitAudioContext' in window,
    permissions: () => 'permissions' in navigator,
    storage: () => 'storage' in navigator,
  };
  let names = new URLSearchParams(location.search).get('hide');
  if (names !== null) sessionStorage.setItem('enroute.hide', names);
  else names = sessionStorage.getItem('enroute.hide') || '';
  const hidden = [];
  for (const name of names.split(',').filter(Boolean)) {
    if (!REMOVERS[name]) throw new Error(`hide-apis.js: unknown API ${name}`);
    REMOVERS[name]();
    if (PRESENT[name]()) throw new Error(`hide-apis.js: could not remove ${name}`);
    hidden.push(name);
  }
  window.__enrouteHidden = hidden;
})();
