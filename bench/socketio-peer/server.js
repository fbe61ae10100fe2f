#!/usr/bin/env node
// Socket.IO 4 comparison peer for the Enroute dispatch server load benchmark.
//
// Does, per message, the same durable work as crates/mock-server: a driver signs in with a
// token checked against its sha256 in SQLite, uploads numbered records that are stored in one
// SQLite transaction (WAL, synchronous = FULL) and acknowledged only after the commit, with
// the highest contiguous sequence number kept in memory and advanced over every stored
// number. See README.md for the contract.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');
const net = require('node:net');
const { Server } = require('socket.io');
const Database = require('better-sqlite3');

const PROTOCOL = 1;
const MAX_RECORDS_PER_MESSAGE = 500;
const MAX_HTTP_BODY_BYTES = 64 * 1024;
const MAX_DRIVER_ID_CHARS = 64;
const DRIVER_ID_PATTERN = /^[A-Za-z0-9._-]+$/;

// ---------------------------------------------------------------------------------------------
// Command line

function usage(message) {
  process.stderr.write(
    `${message}\nusage: node server.js --addr 127.0.0.1:PORT --db PATH --dispatcher-token TOKEN [--group-commit]\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const options = { addr: null, db: null, dispatcherToken: null, groupCommit: false, pingIntervalMs: 25000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--addr') options.addr = value();
    else if (arg === '--db') options.db = value();
    else if (arg === '--dispatcher-token') options.dispatcherToken = value();
    else if (arg === '--group-commit') options.groupCommit = true;
    else if (arg === '--ping-interval-ms') {
      // Test-only: the selfcheck shortens the engine.io heartbeat to observe it on the wire.
      options.pingIntervalMs = Number(value());
      if (!Number.isSafeInteger(options.pingIntervalMs) || options.pingIntervalMs < 1) usage('bad --ping-interval-ms');
    }
    else if (arg === '--help' || arg === '-h') usage('');
    else usage(`unknown argument ${arg}`);
  }
  if (!options.addr) usage('--addr is required');
  if (!options.db) usage('--db is required');
  if (!options.dispatcherToken) usage('--dispatcher-token is required');
  return options;
}

// "127.0.0.1:0", "[::1]:8080", "localhost:0" -> { host, port }; loopback only.
function parseLoopbackAddr(addr) {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr);
  if (!match) usage(`--addr ${addr}: expected HOST:PORT`);
  let host = match[1] || match[2];
  const port = Number(match[3]);
  if (port > 65535) usage(`--addr ${addr}: bad port`);
  if (host === 'localhost') host = '127.0.0.1';
  const family = net.isIP(host);
  const loopback =
    (family === 4 && host.split('.')[0] === '127') || (family === 6 && (host === '::1' || host === '0:0:0:0:0:0:0:1'));
  if (!loopback) usage(`--addr ${addr}: refusing to listen on a non-loopback address`);
  return { host, port };
}

// ---------------------------------------------------------------------------------------------
// Helpers

function sha256Hex(text) {
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

// Constant-time equality of two strings (compared as their sha256 digests, so lengths never leak).
function constantTimeEqual(a, b) {
  const da = crypto.createHash('sha256').update(String(a), 'utf8').digest();
  const db = crypto.createHash('sha256').update(String(b), 'utf8').digest();
  return crypto.timingSafeEqual(da, db);
}

function randomToken() {
  return crypto.randomBytes(16).toString('hex'); // 128 bits, 32 lowercase hex
}

function isValidDriverId(id) {
  return typeof id === 'string' && id.length >= 1 && id.length <= MAX_DRIVER_ID_CHARS && DRIVER_ID_PATTERN.test(id);
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Storage

function openDatabase(path) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(`
    CREATE TABLE IF NOT EXISTS driver_accounts (
      driver_id TEXT PRIMARY KEY,
      token_sha256 TEXT NOT NULL,
      created_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS drivers (
      driver_id TEXT PRIMARY KEY,
      acked_seq INTEGER NOT NULL DEFAULT 0,
      last_seen_ms INTEGER,
      position TEXT,
      position_time_ms INTEGER
    );
    CREATE TABLE IF NOT EXISTS records (
      driver_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      record_id TEXT NOT NULL,
      kind TEXT NOT NULL,
      created_at_ms INTEGER NOT NULL,
      received_at_ms INTEGER NOT NULL,
      body TEXT NOT NULL,
      PRIMARY KEY (driver_id, seq)
    ) WITHOUT ROWID;
  `);
  return db;
}

function prepareStatements(db) {
  return {
    insertAccount: db.prepare(
      'INSERT OR IGNORE INTO driver_accounts (driver_id, token_sha256, created_ms) VALUES (?, ?, ?)',
    ),
    updateAccountToken: db.prepare('UPDATE driver_accounts SET token_sha256 = ? WHERE driver_id = ?'),
    accountHash: db.prepare('SELECT token_sha256 FROM driver_accounts WHERE driver_id = ?').pluck(),
    driverAcked: db.prepare('SELECT acked_seq FROM drivers WHERE driver_id = ?').pluck(),
    heldAbove: db.prepare('SELECT seq FROM records WHERE driver_id = ? AND seq > ? ORDER BY seq').pluck(),
    insertRecord: db.prepare(
      `INSERT OR IGNORE INTO records (driver_id, seq, record_id, kind, created_at_ms, received_at_ms, body)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    upsertDriver: db.prepare(
      `INSERT INTO drivers (driver_id, acked_seq, last_seen_ms) VALUES (?, ?, ?)
       ON CONFLICT (driver_id) DO UPDATE SET acked_seq = excluded.acked_seq, last_seen_ms = excluded.last_seen_ms`,
    ),
    updatePosition: db.prepare(
      `UPDATE drivers SET position = ?, position_time_ms = ?
       WHERE driver_id = ? AND (position_time_ms IS NULL OR position_time_ms <= ?)`,
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// Server

function main() {
  const options = parseArgs(process.argv.slice(2));
  const { host, port } = parseLoopbackAddr(options.addr);
  const db = openDatabase(options.db);
  const sql = prepareStatements(db);
  const dispatcherTokenHash = sha256Hex(options.dispatcherToken);
  const dummyHash = sha256Hex('no such driver');

  // driver_id -> { acked: number, waiting: Set<number> } (committed state only)
  const sequences = new Map();

  function loadSequence(driverId) {
    let sequence = sequences.get(driverId);
    if (!sequence) {
      const acked = Number(sql.driverAcked.get(driverId) ?? 0);
      const waiting = new Set(sql.heldAbove.all(driverId, acked).map(Number));
      sequence = { acked, waiting };
      sequences.set(driverId, sequence);
    }
    return sequence;
  }

  // Stores one batch against a working copy of the driver's sequence (inside a transaction).
  // Returns the batch's acked_seq.
  function storeBatch(working, batch) {
    const { driverId, records, receivedAtMs } = batch;
    let sequence = working.get(driverId);
    if (!sequence) {
      const committed = loadSequence(driverId);
      sequence = { acked: committed.acked, waiting: new Set(committed.waiting) };
      working.set(driverId, sequence);
    }
    let newestFix = null;
    for (const record of records) {
      const seq = record.seq;
      if (seq <= sequence.acked || sequence.waiting.has(seq)) continue; // duplicate
      const info = sql.insertRecord.run(
        driverId,
        seq,
        record.id,
        record.kind,
        record.created_at_ms,
        receivedAtMs,
        JSON.stringify(record),
      );
      if (info.changes === 0) continue; // duplicate
      sequence.waiting.add(seq);
      if (
        record.kind === 'location' &&
        isPlainObject(record.fix) &&
        typeof record.fix.time_ms === 'number' &&
        (newestFix === null || record.fix.time_ms >= newestFix.time_ms)
      ) {
        newestFix = record.fix;
      }
    }
    while (sequence.waiting.has(sequence.acked + 1)) {
      sequence.acked += 1;
      sequence.waiting.delete(sequence.acked);
    }
    sql.upsertDriver.run(driverId, sequence.acked, receivedAtMs);
    if (newestFix !== null) {
      sql.updatePosition.run(JSON.stringify(newestFix), newestFix.time_ms, driverId, newestFix.time_ms);
    }
    return sequence.acked;
  }

  // Commits every batch in one transaction; acks each only after the commit.
  const commitBatches = db.transaction((batches, working) => {
    for (const batch of batches) batch.ackedSeq = storeBatch(working, batch);
  });

  const stats = { transactions: 0, batches: 0 };

  function commitAndAck(batches) {
    const working = new Map();
    try {
      commitBatches(batches, working);
      stats.transactions += 1;
      stats.batches += batches.length;
    } catch (error) {
      process.stderr.write(`store failed: ${error && error.stack ? error.stack : error}\n`);
      for (const batch of batches) {
        refuse(batch.socket, 'internal', 'the records could not be stored', true);
      }
      return;
    }
    for (const [driverId, sequence] of working) sequences.set(driverId, sequence);
    for (const batch of batches) {
      if (batch.socket.connected) batch.socket.emit('ack', { type: 'ack', acked_seq: batch.ackedSeq });
    }
  }

  let queue = [];
  function flushQueue() {
    const batches = queue;
    queue = [];
    commitAndAck(batches);
  }
  function submit(batch) {
    if (!options.groupCommit) {
      commitAndAck([batch]);
      return;
    }
    queue.push(batch);
    if (queue.length === 1) setImmediate(flushQueue);
  }

  // ------------------------------------------------------------------ HTTP

  function sendJson(res, status, body) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function sendText(res, status, text) {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function authorized(req) {
    const header = req.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
    return constantTimeEqual(sha256Hex(header.slice('Bearer '.length)), dispatcherTokenHash);
  }

  function readBody(req, res, callback) {
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_HTTP_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) return sendJson(res, 413, { error: 'body too large' });
      callback(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', () => res.destroy());
  }

  function handleRequest(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const path = url.pathname;
    if (path === '/health') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed');
      return sendText(res, 200, 'ok');
    }
    if (path === '/api/drivers') {
      if (req.method !== 'POST') return sendJson(res, 405, { error: 'method not allowed' });
      if (!authorized(req)) return sendJson(res, 401, { error: 'unauthorized' });
      return readBody(req, res, (text) => {
        let body;
        try {
          body = JSON.parse(text);
        } catch {
          return sendJson(res, 400, { error: 'body must be JSON' });
        }
        if (!isPlainObject(body) || !isValidDriverId(body.driver_id)) {
          return sendJson(res, 400, {
            error: `driver_id must be 1 to ${MAX_DRIVER_ID_CHARS} letters, digits, '.', '_' or '-'`,
          });
        }
        const token = randomToken();
        const info = sql.insertAccount.run(body.driver_id, sha256Hex(token), Date.now());
        if (info.changes === 0) return sendJson(res, 409, { error: 'driver already registered' });
        return sendJson(res, 201, { driver_id: body.driver_id, token });
      });
    }
    const tokenPath = /^\/api\/drivers\/([^/]+)\/token$/.exec(path);
    if (tokenPath) {
      if (req.method !== 'POST') return sendJson(res, 405, { error: 'method not allowed' });
      if (!authorized(req)) return sendJson(res, 401, { error: 'unauthorized' });
      let driverId;
      try {
        driverId = decodeURIComponent(tokenPath[1]);
      } catch {
        return sendJson(res, 400, { error: 'bad driver id' });
      }
      req.resume();
      const token = randomToken();
      const info = sql.updateAccountToken.run(sha256Hex(token), driverId);
      if (info.changes === 0) return sendJson(res, 404, { error: 'unknown driver' });
      return sendJson(res, 200, { driver_id: driverId, token });
    }
    return sendJson(res, 404, { error: 'not found' });
  }

  const httpServer = http.createServer(handleRequest);

  // ------------------------------------------------------------------ Socket.IO

  const io = new Server(httpServer, {
    path: '/socket.io/',
    transports: ['websocket'],
    perMessageDeflate: false,
    httpCompression: false,
    maxHttpBufferSize: 1024 * 1024,
    serveClient: false,
    pingInterval: options.pingIntervalMs, // engine.io default 25000
    pingTimeout: 20000, // engine.io default
  });

  // Emits `error` then ends the session: a socket.io DISCONNECT packet (`41`), then the
  // engine.io connection is closed once the frames are written.
  function refuse(socket, code, message, disconnect) {
    if (!socket.connected) return;
    socket.emit('error', { type: 'error', code, message });
    if (disconnect) {
      const conn = socket.conn;
      socket.disconnect();
      conn.close();
    }
  }

  io.on('connection', (socket) => {
    let driverId = null; // set once greeted

    socket.on('error', () => {}); // a client-sent "error" event must not throw

    socket.onAny((event, payload) => {
      try {
        if (event === 'hello') return onHello(payload);
        if (driverId === null) return refuse(socket, 'hello_required', 'send hello first', true);
        if (event === 'records') return onRecords(payload);
        if (event === 'ping') return onPing(payload);
        return refuse(socket, 'bad_message', `unknown event ${JSON.stringify(String(event))}`, false);
      } catch (error) {
        process.stderr.write(`handler failed: ${error && error.stack ? error.stack : error}\n`);
        refuse(socket, 'internal', 'internal error', true);
      }
    });

    function onHello(hello) {
      if (driverId !== null) return refuse(socket, 'already_greeted', 'hello was already accepted', true);
      if (!isPlainObject(hello)) return refuse(socket, 'bad_message', 'hello must be an object', true);
      if (hello.protocol !== PROTOCOL) {
        return refuse(socket, 'unsupported_protocol', `this server speaks protocol ${PROTOCOL}`, true);
      }
      const id = hello.driver_id;
      const token = hello.token;
      let known = false;
      let storedHash = dummyHash;
      if (typeof id === 'string' && typeof token === 'string') {
        const found = sql.accountHash.get(id);
        if (typeof found === 'string') {
          known = true;
          storedHash = found;
        }
      }
      const presented = typeof token === 'string' ? sha256Hex(token) : '';
      const matches = constantTimeEqual(presented, storedHash);
      if (!known || !matches) return refuse(socket, 'unauthorized', 'unknown driver or wrong token', true);
      driverId = id;
      const sequence = loadSequence(id);
      socket.emit('welcome', { type: 'welcome', protocol: PROTOCOL, acked_seq: sequence.acked, server_time_ms: Date.now() });
    }

    function onRecords(message) {
      const receivedAtMs = Date.now();
      if (!isPlainObject(message) || !Array.isArray(message.records)) {
        return refuse(socket, 'bad_message', 'records must be an array', false);
      }
      const records = message.records;
      if (records.length > MAX_RECORDS_PER_MESSAGE) {
        return refuse(socket, 'bad_message', `at most ${MAX_RECORDS_PER_MESSAGE} records per message`, false);
      }
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        if (
          !isPlainObject(r) ||
          !Number.isSafeInteger(r.seq) ||
          r.seq < 1 ||
          typeof r.id !== 'string' ||
          typeof r.created_at_ms !== 'number' ||
          !Number.isFinite(r.created_at_ms) ||
          typeof r.kind !== 'string'
        ) {
          return refuse(socket, 'bad_message', `record ${i} is malformed`, false);
        }
      }
      submit({ socket, driverId, records, receivedAtMs, ackedSeq: 0 });
    }

    function onPing(ping) {
      const nonce = isPlainObject(ping) ? ping.nonce : undefined;
      socket.emit('pong', { type: 'pong', nonce });
    }
  });

  // ------------------------------------------------------------------ Lifecycle

  httpServer.on('error', (error) => {
    process.stderr.write(`listen failed: ${error.message}\n`);
    db.close();
    process.exit(1);
  });

  httpServer.listen(port, host, () => {
    const address = httpServer.address();
    const shown = address.family === 'IPv6' || address.family === 6 ? `[${address.address}]` : address.address;
    process.stdout.write(`socketio peer listening on http://${shown}:${address.port}\n`);
  });

  let stopping = false;
  function shutdown() {
    if (stopping) return;
    stopping = true;
    if (queue.length > 0) flushQueue(); // commit (and ack) what was already received
    io.close(); // disconnects every client and closes the http server
    const forced = setTimeout(() => finish(0), 2000);
    forced.unref();
    httpServer.close(() => finish(0));
  }
  let finished = false;
  function finish(code) {
    if (finished) return;
    finished = true;
    process.stderr.write(
      `socketio peer stopping: ${stats.batches} records messages committed in ${stats.transactions} transactions\n`,
    );
    try {
      db.close();
    } catch (error) {
      process.stderr.write(`closing the database failed: ${error.message}\n`);
      code = 1;
    }
    process.exit(code);
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main();
