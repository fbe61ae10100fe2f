// A TCP relay between the browser and the server that the test can cut and restore: the phone
// losing its network, the same way in every engine (playwright's `setOffline` is Chromium-only).
// Cutting closes every open connection and refuses new ones, as a dead network does; the page's
// `navigator.onLine` stays true, as it does on a phone whose Wi-Fi has no internet.

'use strict';

const net = require('node:net');

/** Relays 127.0.0.1:<port> to the server on `targetPort` (which may restart meanwhile). */
async function startRelay(targetPort) {
  const sockets = new Set();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    /** The network goes away: open connections die, new ones are refused. */
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    /** The network is back. */
    restore() {
      cut = false;
    },
    close() {
      cut = true;
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

module.exports = { startRelay };
