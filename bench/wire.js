// Bytes on the wire per driving hour: `enroute-replay wire` drives one simulated driver per
// trace in ../shared/traces (the app's engine and throttle, the default policy) against the
// release server on loopback, once offering protocol 1 and once protocol 2, with the engine's
// timers in trace time (so pings are an hour's pings), counts every WebSocket frame each way and
// scales to an hour; beside it, one Socket.IO event per fix (a model). Writes the `wire` section
// of docs/benchmarks.md.
//
// ENROUTE_WIRE_SPEED (default 20): trace seconds per real second.

'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { writeSection } = require('./report');
const { untilListening, stopServer } = require('./server-process');
const { TRACES } = require('../e2e/harness'); // ../shared/traces, or ENROUTE_TRACES_DIR

const ROOT = path.resolve(__dirname, '..');
const SERVER = path.join(ROOT, 'target/release/enroute-mock-server');
const REPLAY = path.join(ROOT, 'target/release/enroute-replay');
const TOKEN = 'bench-dispatcher-token';
const SPEED = Number(process.env.ENROUTE_WIRE_SPEED || 20);

async function main() {
  for (const binary of [SERVER, REPLAY]) {
    if (!fs.existsSync(binary)) throw new Error(`no ${binary}: scripts/bench builds the release binaries`);
  }
  const traces = fs
    .readdirSync(TRACES)
    .filter((name) => /\.(gpx|nmea|csv)$/.test(name))
    .sort()
    .map((name) => path.join(TRACES, name));
  const child = spawn(SERVER, ['--addr', '127.0.0.1:0', '--db', ':memory:', '--dist', '/nonexistent', '--dispatcher-token', TOKEN], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  const server = await untilListening(child, 'the server');
  let table;
  try {
    console.log(`wire: ${traces.length} traces at ${SPEED}× against ${server.address}`);
    table = execFileSync(
      REPLAY,
      ['wire', ...traces, '--server', `ws://${server.address}/ws`, '--dispatcher-token', TOKEN, '--speed', String(SPEED)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60 * 1000 },
    );
  } finally {
    await stopServer(server);
  }
  const command = `enroute-replay wire ${traces.map((trace) => path.relative(ROOT, trace)).join(' ')} --speed ${SPEED}`;
  const markdown = `## Bytes on the wire per driving hour (issue 16)

One simulated driver per trace (the app's engine and throttle, default policy) against the
release server on loopback, every WebSocket frame counted each way and scaled to one hour of
driving; the engine's timers run in trace time, so pings are an hour's pings. "Protocol 1" is
the driver offering only version 1 (every frame a JSON object, as every app before protocol 2);
"protocol 2" is what the app offers now (\`docs/protocol.md\`, "Version 2: compact frames"). The
Socket.IO row is a model, not a run: one \`42["location",{…}]\` event per position the trace
holds (the source documents' design, no acknowledgement) and Engine.IO's heartbeat every 25 s.
Target: at most 25 KB of WebSocket payload per hour, both directions, on the 1 Hz car trace
(\`barefoot-munich-car.gpx\`).

Command: \`${command}\` (\`node bench/wire.js\`).

${table.trim()}`;
  writeSection('wire', markdown);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
