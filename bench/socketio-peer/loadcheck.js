#!/usr/bin/env node
// Quick load sanity check (not the benchmark): N concurrent Socket.IO clients (default 500)
// each register, connect, hello, then all send one record at once and wait for its ack.
// Runs the server without and with --group-commit. Exits non-zero on any failure.
//   node loadcheck.js [--clients 500]
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { io } = require('socket.io-client');

const SECRET = 'loadcheck-dispatcher-secret';
const clientsArg = process.argv.indexOf('--clients');
const CLIENTS = clientsArg > 0 ? Number(process.argv[clientsArg + 1]) : 500;
const TIMEOUT_MS = 30000;

function startServer(dbPath, groupCommit) {
  const args = [path.join(__dirname, 'server.js'), '--addr', '127.0.0.1:0', '--db', dbPath, '--dispatcher-token', SECRET];
  if (groupCommit) args.push('--group-commit');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
    child.stdout.once('data', (chunk) => {
      const match = /^socketio peer listening on (http:\/\/\S+)\n/.exec(String(chunk));
      if (!match) return reject(new Error(`unexpected first line: ${chunk}`));
      resolve({ child, url: match[1], stderr: () => stderr });
    });
  });
}

function stopServer(server) {
  return new Promise((resolve, reject) => {
    server.child.removeAllListeners('exit');
    server.child.once('exit', (code) => (code === 0 ? resolve(server.stderr()) : reject(new Error(`exit ${code}`))));
    server.child.kill('SIGTERM');
  });
}

function withTimeout(promise, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), TIMEOUT_MS))),
  ]);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(groupCommit) {
  const label = groupCommit ? 'with --group-commit   ' : 'without --group-commit';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socketio-peer-load-'));
  const server = await startServer(path.join(dir, 'peer.db'), groupCommit);
  const sockets = [];
  try {
    // Register every driver (sequentially in small waves, as a dispatcher would).
    const tokens = [];
    for (let i = 0; i < CLIENTS; i += 50) {
      const wave = [];
      for (let j = i; j < Math.min(CLIENTS, i + 50); j++) {
        wave.push(
          fetch(`${server.url}/api/drivers`, {
            method: 'POST',
            headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
            body: JSON.stringify({ driver_id: `load-${j}` }),
          }).then(async (r) => {
            if (r.status !== 201) throw new Error(`register load-${j}: ${r.status}`);
            tokens[j] = (await r.json()).token;
          }),
        );
      }
      await Promise.all(wave);
    }

    // Connect and greet everyone concurrently.
    const connectStart = performance.now();
    await withTimeout(
      Promise.all(
        tokens.map(
          (token, i) =>
            new Promise((resolve, reject) => {
              const socket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: TIMEOUT_MS });
              sockets.push(socket);
              socket.once('error', (e) => reject(new Error(`load-${i}: ${JSON.stringify(e)}`)));
              socket.once('connect_error', reject);
              socket.once('welcome', (w) => (w.acked_seq === 0 ? resolve() : reject(new Error('acked_seq'))));
              socket.emit('hello', { type: 'hello', protocol: 1, driver_id: `load-${i}`, token, app_version: 'load', last_event_id: 0 });
            }),
        ),
      ),
      'connect + hello',
    );
    const connectMs = performance.now() - connectStart;

    // Everyone sends one record at once.
    const latencies = [];
    const sendStart = performance.now();
    await withTimeout(
      Promise.all(
        sockets.map(
          (socket, i) =>
            new Promise((resolve, reject) => {
              const t0 = performance.now();
              socket.once('ack', (ack) => {
                latencies.push(performance.now() - t0);
                if (ack.acked_seq !== 1) return reject(new Error(`load-${i}: ack ${ack.acked_seq}`));
                resolve();
              });
              const now = Date.now();
              socket.emit('records', {
                type: 'records',
                records: [
                  {
                    seq: 1,
                    id: (i + 1).toString(16).padStart(32, '0'),
                    created_at_ms: now,
                    kind: 'location',
                    fix: { time_ms: now, lat: 52.37, lon: 4.89, accuracy_m: 5, speed_mps: 0, heading_deg: 0 },
                  },
                ],
              });
            }),
        ),
      ),
      'acks',
    );
    const sendMs = performance.now() - sendStart;
    latencies.sort((a, b) => a - b);
    for (const socket of sockets) socket.disconnect();
    const stats = (await stopServer(server)).trim();
    console.log(
      `[${label}] ${CLIENTS} clients: connect+hello ${connectMs.toFixed(0)} ms; ` +
        `${CLIENTS} records acked in ${sendMs.toFixed(0)} ms ` +
        `(ack latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, ` +
        `max ${latencies[latencies.length - 1].toFixed(1)} ms); server: ${stats.replace('socketio peer stopping: ', '')}`,
    );
  } catch (error) {
    for (const socket of sockets) socket.disconnect();
    server.child.kill('SIGTERM');
    throw error;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

(async () => {
  await run(false);
  await run(true);
  console.log('loadcheck passed');
})().catch((error) => {
  console.error(`loadcheck FAILED: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
