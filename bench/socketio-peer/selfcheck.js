#!/usr/bin/env node
// Self-check for the Socket.IO peer: runs the server (once without, once with --group-commit)
// on port 0 with a temp database and checks the HTTP API, the hello/records/ping protocol,
// acknowledgements, persistence across a restart, and the raw engine.io/socket.io framing.
// Exits non-zero on any failure. `--verbose` prints every raw frame seen.
'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { io } = require('socket.io-client');
const WebSocket = require('ws');
const Database = require('better-sqlite3');

const SECRET = 'selfcheck-dispatcher-secret';
const VERBOSE = process.argv.includes('--verbose');
const TIMEOUT_MS = 5000;

function log(line) {
  process.stdout.write(`${line}\n`);
}

// ------------------------------------------------------------------ server process

function startServer({ dbPath, groupCommit, extraArgs = [] }) {
  const args = [path.join(__dirname, 'server.js'), '--addr', '127.0.0.1:0', '--db', dbPath, '--dispatcher-token', SECRET];
  if (groupCommit) args.push('--group-commit');
  args.push(...extraArgs);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening: ${stderr}`)));
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      const line = stdout.slice(0, newline);
      const match = /^socketio peer listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
      if (!match || Number(match[2]) === 0) return reject(new Error(`unexpected first line: ${JSON.stringify(line)}`));
      resolve({ child, url: match[1], stderr: () => stderr });
    });
  });
}

function stopServer(server, signal = 'SIGTERM') {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not exit on ' + signal)), TIMEOUT_MS);
    server.child.once('exit', (code, sig) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`server exited with code ${code} signal ${sig}: ${server.stderr()}`));
      resolve();
    });
    server.child.kill(signal);
  });
}

// ------------------------------------------------------------------ HTTP

async function request(url, { method = 'GET', token, body } = {}) {
  const headers = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, text, json };
}

async function register(url, driverId) {
  const r = await request(`${url}/api/drivers`, { method: 'POST', token: SECRET, body: JSON.stringify({ driver_id: driverId }) });
  assert.equal(r.status, 201, `register ${driverId}: ${r.text}`);
  return r.json.token;
}

// ------------------------------------------------------------------ socket.io client helpers

function connect(url) {
  return io(url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: TIMEOUT_MS });
}

// Resolves with the first payload of `event`; rejects on timeout or on `error` (unless awaited).
function next(socket, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${event}`));
    }, TIMEOUT_MS);
    const onEvent = (payload) => {
      cleanup();
      resolve(payload);
    };
    const onError = (payload) => {
      cleanup();
      reject(new Error(`got error ${JSON.stringify(payload)} while waiting for ${event}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off(event, onEvent);
      if (event !== 'error') socket.off('error', onError);
    };
    socket.on(event, onEvent);
    if (event !== 'error') socket.on('error', onError);
  });
}

async function greet(url, driverId, token) {
  const socket = connect(url);
  const welcome = next(socket, 'welcome');
  socket.emit('hello', { type: 'hello', protocol: 1, driver_id: driverId, token, app_version: 'selfcheck', last_event_id: 0 });
  return { socket, welcome: await welcome };
}

function record(seq, timeMs = 1763769599000 + seq * 1000) {
  return {
    seq,
    id: seq.toString(16).padStart(32, '0'),
    created_at_ms: timeMs,
    kind: 'location',
    fix: { time_ms: timeMs, lat: 52.37 + seq / 1e4, lon: 4.89, accuracy_m: 5, speed_mps: 8.5, heading_deg: 90 },
  };
}

async function sendRecords(socket, seqs) {
  const ack = next(socket, 'ack');
  socket.emit('records', { type: 'records', records: seqs.map((seq) => record(seq)) });
  const payload = await ack;
  assert.equal(payload.type, 'ack');
  return payload.acked_seq;
}

// Expects `error` with `code`, then (if `disconnects`) a server-side disconnect.
async function expectRefusal(socket, code, disconnects) {
  const disconnected = new Promise((resolve) => socket.once('disconnect', resolve));
  const error = await next(socket, 'error');
  assert.equal(error.code, code, JSON.stringify(error));
  assert.equal(typeof error.message, 'string');
  if (disconnects) {
    const reason = await Promise.race([disconnected, new Promise((r) => setTimeout(() => r('(still connected)'), TIMEOUT_MS))]);
    assert.equal(reason, 'io server disconnect', `${code}: disconnect reason`);
  }
}

// ------------------------------------------------------------------ raw websocket (framing)

// Opens a raw engine.io v4 websocket and returns a small frame reader. Heartbeat pings ("2")
// are answered with "3" as they come and counted, not returned by read().
function rawConnect(url) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const frames = [];
  const waiters = [];
  let closed = null;
  let pings = 0;
  ws.on('message', (data, isBinary) => {
    const frame = isBinary ? data : data.toString('utf8');
    if (VERBOSE) log(`    <- ${isBinary ? '(binary)' : frame}`);
    if (frame === '2') {
      pings += 1;
      if (VERBOSE) log('    -> 3');
      ws.send('3');
      return;
    }
    frames.push(frame);
    while (waiters.length && frames.length) waiters.shift()(frames.shift());
  });
  ws.on('close', (code) => {
    closed = code;
    if (VERBOSE) log(`    <- (websocket close ${code})`);
    while (waiters.length) waiters.shift()(null);
  });
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    opened,
    send(frame) {
      if (VERBOSE) log(`    -> ${frame}`);
      ws.send(frame);
    },
    read() {
      if (frames.length) return Promise.resolve(frames.shift());
      if (closed !== null) return Promise.resolve(null);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), TIMEOUT_MS);
        waiters.push((frame) => {
          clearTimeout(timer);
          resolve(frame);
        });
      });
    },
    closedCode: () => closed,
    pings: () => pings,
    close: () => ws.close(),
  };
}

async function checkRawFraming(url, driverId, token) {
  const raw = rawConnect(url);
  await raw.opened;
  // engine.io OPEN
  const open = await raw.read();
  assert.match(open, /^0\{/);
  const handshake = JSON.parse(open.slice(1));
  assert.equal(typeof handshake.sid, 'string');
  assert.deepEqual(handshake.upgrades, []);
  assert.equal(handshake.pingInterval, 300);
  assert.equal(handshake.pingTimeout, 20000);
  assert.equal(handshake.maxPayload, 1048576);
  // socket.io CONNECT to the default namespace
  raw.send('40');
  const connected = await raw.read();
  assert.match(connected, /^40\{"sid":"[^"]+"\}$/);
  // hello -> welcome
  raw.send(`42${JSON.stringify(['hello', { type: 'hello', protocol: 1, driver_id: driverId, token, app_version: 'raw', last_event_id: 0 }])}`);
  const welcome = await raw.read();
  assert.match(welcome, /^42\["welcome",\{/);
  const [name, body] = JSON.parse(welcome.slice(2));
  assert.equal(name, 'welcome');
  assert.equal(body.acked_seq, 0);
  // records -> ack
  raw.send(`42${JSON.stringify(['records', { type: 'records', records: [record(1)] }])}`);
  assert.equal(await raw.read(), '42["ack",{"type":"ack","acked_seq":1}]');
  // app-level ping -> pong
  raw.send('42["ping",{"type":"ping","nonce":7}]');
  assert.equal(await raw.read(), '42["pong",{"type":"pong","nonce":7}]');
  // engine.io heartbeat: the server sends "2" every pingInterval, the client answers "3";
  // surviving 3 intervals shows the answers are accepted.
  const deadline = Date.now() + TIMEOUT_MS;
  while (raw.pings() < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(raw.pings() >= 3, `saw ${raw.pings()} heartbeat pings`);
  assert.equal(raw.closedCode(), null);
  // refusal framing: error event, then socket.io DISCONNECT, then the websocket closes
  raw.send('42["hello",{"type":"hello","protocol":1,"driver_id":"x","token":"y"}]');
  const error = await raw.read();
  assert.match(error, /^42\["error",\{"type":"error","code":"already_greeted","message":/);
  assert.equal(await raw.read(), '41');
  assert.equal(await raw.read(), null);
  assert.ok(raw.closedCode() !== null);
}

async function checkRawUnauthorized(url) {
  const raw = rawConnect(url);
  await raw.opened;
  assert.match(await raw.read(), /^0\{/);
  raw.send('40');
  assert.match(await raw.read(), /^40\{"sid":/);
  raw.send('42["hello",{"type":"hello","protocol":1,"driver_id":"nobody","token":"00000000000000000000000000000000","app_version":"raw","last_event_id":0}]');
  assert.match(await raw.read(), /^42\["error",\{"type":"error","code":"unauthorized","message":/);
  assert.equal(await raw.read(), '41');
  assert.equal(await raw.read(), null);
}

// ------------------------------------------------------------------ checks

async function checkHttp(url, dbPath) {
  const health = await request(`${url}/health`);
  assert.equal(health.status, 200);
  assert.equal(health.text, 'ok');

  const body = JSON.stringify({ driver_id: 'd1' });
  assert.equal((await request(`${url}/api/drivers`, { method: 'POST', body })).status, 401, 'no bearer');
  assert.equal((await request(`${url}/api/drivers`, { method: 'POST', token: 'wrong', body })).status, 401, 'wrong bearer');
  assert.equal((await request(`${url}/api/drivers`, { method: 'POST', token: SECRET, body: '{nope' })).status, 400, 'bad json');
  assert.equal((await request(`${url}/api/drivers`, { method: 'POST', token: SECRET, body: '{"driver":"d1"}' })).status, 400);
  assert.equal((await request(`${url}/api/drivers`, { method: 'POST', token: SECRET, body: '{"driver_id":""}' })).status, 400);

  const created = await request(`${url}/api/drivers`, { method: 'POST', token: SECRET, body });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.json.driver_id, 'd1');
  assert.match(created.json.token, /^[0-9a-f]{32}$/);
  assert.equal((await request(`${url}/api/drivers`, { method: 'POST', token: SECRET, body })).status, 409, 'duplicate');

  const rotatedUnknown = await request(`${url}/api/drivers/nobody/token`, { method: 'POST', token: SECRET });
  assert.equal(rotatedUnknown.status, 404);
  assert.equal((await request(`${url}/api/drivers/d1/token`, { method: 'POST', token: 'wrong' })).status, 401);
  const rotated = await request(`${url}/api/drivers/d1/token`, { method: 'POST', token: SECRET });
  assert.equal(rotated.status, 200, rotated.text);
  assert.equal(rotated.json.driver_id, 'd1');
  assert.match(rotated.json.token, /^[0-9a-f]{32}$/);
  assert.notEqual(rotated.json.token, created.json.token);

  // Tokens are stored hashed, never in clear.
  const db = new Database(dbPath, { readonly: true });
  const stored = db.prepare('SELECT token_sha256 FROM driver_accounts WHERE driver_id = ?').pluck().get('d1');
  db.close();
  const crypto = require('node:crypto');
  assert.equal(stored, crypto.createHash('sha256').update(rotated.json.token).digest('hex'));
  return { oldToken: created.json.token, token: rotated.json.token };
}

async function checkProtocol(url, tokens) {
  // The rotated-away token no longer signs in.
  {
    const socket = connect(url);
    socket.emit('hello', { type: 'hello', protocol: 1, driver_id: 'd1', token: tokens.oldToken, app_version: 'x', last_event_id: 0 });
    await expectRefusal(socket, 'unauthorized', true);
  }
  // A wrong token and an unknown driver are refused alike.
  for (const [driverId, token] of [['d1', 'ffffffffffffffffffffffffffffffff'], ['nobody', tokens.token]]) {
    const socket = connect(url);
    socket.emit('hello', { type: 'hello', protocol: 1, driver_id: driverId, token, app_version: 'x', last_event_id: 0 });
    await expectRefusal(socket, 'unauthorized', true);
  }
  // Unsupported protocol.
  {
    const socket = connect(url);
    socket.emit('hello', { type: 'hello', protocol: 2, driver_id: 'd1', token: tokens.token, app_version: 'x', last_event_id: 0 });
    await expectRefusal(socket, 'unsupported_protocol', true);
  }
  // records (and ping) before hello.
  for (const event of ['records', 'ping']) {
    const socket = connect(url);
    socket.emit(event, event === 'records' ? { type: 'records', records: [record(1)] } : { type: 'ping', nonce: 1 });
    await expectRefusal(socket, 'hello_required', true);
  }

  const { socket, welcome } = await greet(url, 'd1', tokens.token);
  assert.equal(welcome.type, 'welcome');
  assert.equal(welcome.protocol, 1);
  assert.equal(welcome.acked_seq, 0);
  assert.ok(Math.abs(welcome.server_time_ms - Date.now()) < 5000);

  const acks = [];
  acks.push(await sendRecords(socket, [1, 2, 3]));
  acks.push(await sendRecords(socket, [5]));
  acks.push(await sendRecords(socket, [4]));
  acks.push(await sendRecords(socket, [2]));
  assert.deepEqual(acks, [3, 3, 5, 5]);

  // Pipelined batches (no waiting between them) are acked in order.
  const pipelined = [];
  const done = new Promise((resolve) => {
    socket.on('ack', function onAck(ack) {
      pipelined.push(ack.acked_seq);
      if (pipelined.length === 3) {
        socket.off('ack', onAck);
        resolve();
      }
    });
  });
  socket.emit('records', { type: 'records', records: [record(7)] });
  socket.emit('records', { type: 'records', records: [record(6)] });
  socket.emit('records', { type: 'records', records: [record(6), record(9)] });
  await done;
  assert.deepEqual(pipelined, [5, 7, 7]);

  const pong = next(socket, 'pong');
  socket.emit('ping', { type: 'ping', nonce: 7 });
  assert.deepEqual(await pong, { type: 'pong', nonce: 7 });

  // A malformed record is refused, nothing stored, the connection stays.
  for (const bad of [
    { type: 'records', records: [{ ...record(8), seq: 0 }] },
    { type: 'records', records: [{ ...record(8), seq: 2 ** 53 }] },
    { type: 'records', records: [record(8), { ...record(10), id: 10 }] },
    { type: 'records', records: [{ ...record(8), created_at_ms: '1' }] },
    { type: 'records', records: [{ ...record(8), kind: undefined }] },
    { type: 'records', records: 'nope' },
    { type: 'records', records: Array.from({ length: 501 }, (_, i) => record(100 + i)) },
  ]) {
    const error = next(socket, 'error');
    socket.emit('records', bad);
    assert.equal((await error).code, 'bad_message');
  }
  assert.equal(socket.connected, true);
  assert.equal(await sendRecords(socket, []), 7, 'nothing from the refused batches was stored');

  // 500 records in one message.
  assert.equal(await sendRecords(socket, Array.from({ length: 500 }, (_, i) => 10 + i)), 7);
  assert.equal(await sendRecords(socket, [8]), 509);

  // A second hello ends the session.
  socket.emit('hello', { type: 'hello', protocol: 1, driver_id: 'd1', token: tokens.token, app_version: 'x', last_event_id: 0 });
  await expectRefusal(socket, 'already_greeted', true);

  // A new session is welcomed at the stored sequence number; 511 waits above a gap.
  const again = await greet(url, 'd1', tokens.token);
  assert.equal(again.welcome.acked_seq, 509);
  assert.equal(await sendRecords(again.socket, [511]), 509);
  again.socket.disconnect();
}

async function checkAfterRestart(url, tokens, dbPath) {
  // The sequence state is reloaded from SQLite: acked 509, 511 held above the gap at 510.
  const { socket, welcome } = await greet(url, 'd1', tokens.token);
  assert.equal(welcome.acked_seq, 509);
  assert.equal(await sendRecords(socket, [510]), 511);
  socket.disconnect();

  const db = new Database(dbPath, { readonly: true });
  const driver = db.prepare('SELECT acked_seq, position FROM drivers WHERE driver_id = ?').get('d1');
  const count = db.prepare('SELECT count(*) FROM records WHERE driver_id = ?').pluck().get('d1');
  const body = JSON.parse(db.prepare('SELECT body FROM records WHERE driver_id = ? AND seq = 1').pluck().get('d1'));
  db.close();
  assert.equal(driver.acked_seq, 511);
  assert.equal(count, 511);
  assert.deepEqual(body, record(1));
  assert.equal(JSON.parse(driver.position).time_ms, record(511).fix.time_ms, 'position is the newest fix');
}

async function run(groupCommit) {
  const label = groupCommit ? 'with --group-commit' : 'without --group-commit';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socketio-peer-'));
  const dbPath = path.join(dir, 'peer.db');
  try {
    let server = await startServer({ dbPath, groupCommit });
    log(`[${label}] ${server.url}`);
    const tokens = await checkHttp(server.url, dbPath);
    log(`[${label}] ok   http: health, register 201/409/401/400, rotate 200/404, token stored as sha256`);
    await checkProtocol(server.url, tokens);
    log(`[${label}] ok   socket.io: unauthorized, unsupported_protocol, hello_required, acks 3,3,5,5, pipelined acks, pong, bad_message, already_greeted`);
    await stopServer(server, 'SIGTERM');
    log(`[${label}] ok   exit 0 on SIGTERM`);

    server = await startServer({ dbPath, groupCommit, extraArgs: ['--ping-interval-ms', '300'] });
    await checkAfterRestart(server.url, tokens, dbPath);
    log(`[${label}] ok   restart: acked_seq and held records reloaded from SQLite`);
    const rawToken = await register(server.url, 'raw1');
    await checkRawFraming(server.url, 'raw1', rawToken);
    await checkRawUnauthorized(server.url);
    log(`[${label}] ok   raw engine.io v4 framing: 0{...} / 40 / 40{"sid"} / 42[...] / 2 -> 3 / 41 + close`);
    await stopServer(server, 'SIGINT');
    log(`[${label}] ok   exit 0 on SIGINT`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function checkRefusesNonLoopback() {
  const child = spawn(process.execPath, [path.join(__dirname, 'server.js'), '--addr', '0.0.0.0:0', '--db', ':memory:', '--dispatcher-token', SECRET], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.notEqual(code, 0);
  assert.equal(stdout, '');
  log('ok   refuses --addr 0.0.0.0:0');
}

(async () => {
  await checkRefusesNonLoopback();
  await run(false);
  await run(true);
  log('selfcheck passed');
})().catch((error) => {
  process.stderr.write(`selfcheck FAILED: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
