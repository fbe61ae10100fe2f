// The server on 1, 2 and 3 nodes sharing one PostgreSQL database, side by side with SQLite on
// one node: the same drivers (`enroute-replay load`, one generator per node, the drivers split
// evenly), one location record each every 5 s. Reports records acknowledged, ack latency per
// node, and the CPU time spent per record by the server processes and by PostgreSQL. On a
// machine with 2 cores the point is the cost per record and that nothing is lost, not speed.
// Loopback only; a throwaway cluster (scripts/postgres-cluster), stopped after. Writes the
// `nodes` section of docs/benchmarks.md.
//
// ENROUTE_NODES_DRIVERS (default 2000), ENROUTE_NODES_DURATION_S (default 30).

'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { writeSection } = require('./report');
const { untilListening, stopServer } = require('./server-process');

const ROOT = path.resolve(__dirname, '..');
const SERVER = path.join(ROOT, 'target/release/enroute-mock-server');
const REPLAY = path.join(ROOT, 'target/release/enroute-replay');
const CLUSTER = path.join(ROOT, 'scripts/postgres-cluster');
const TOKEN = 'bench-dispatcher-token';
const DRIVERS = Number(process.env.ENROUTE_NODES_DRIVERS || 2000);
const DURATION_S = Number(process.env.ENROUTE_NODES_DURATION_S || 30);
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

for (const binary of [SERVER, REPLAY]) {
  if (!fs.existsSync(binary)) throw new Error(`no ${binary}: scripts/bench builds the release binaries`);
}

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of every PostgreSQL server process (its backends come and go). */
function postgresSeconds() {
  let total = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += cpuSeconds(entry);
    } catch {}
  }
  return total;
}

function startNode(db) {
  const child = spawn(SERVER, ['--addr', '127.0.0.1:0', '--db', db, '--dist', '/nonexistent', '--dispatcher-token', TOKEN, '--max-connections', '30000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  return untilListening(child, 'the server');
}

const stopNode = stopServer;

/** A fresh schema of the cluster at `url`; the URL that uses it. */
function freshSchema(url, name) {
  const psql = path.join(execFileSync('bash', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1']).toString().trim(), 'psql');
  execFileSync(psql, [url, '-q', '-c', `CREATE SCHEMA ${name}`]);
  return `${url}${url.includes('?') ? '&' : '?'}options=-c%20search_path%3D${name}`;
}

/** One configuration: `nodes` servers on `db`; every node's generator at once. */
async function run(label, db, nodes, onPostgres) {
  console.log(`${label}: ${DRIVERS} drivers over ${nodes} node(s)`);
  const servers = [];
  for (let index = 0; index < nodes; index += 1) servers.push(await startNode(db));
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'enroute-nodes-'));
  const serverBefore = servers.map((server) => cpuSeconds(server.pid));
  const postgresBefore = onPostgres ? postgresSeconds() : 0;
  const started = Date.now();
  const generators = servers.map((server, index) => {
    const report = path.join(directory, `report-${index}.json`);
    const share = Math.floor(DRIVERS / nodes) + (index < DRIVERS % nodes ? 1 : 0);
    const args = [
      'load', '--dispatcher-token', TOKEN, '--server', `ws://${server.address}/ws`, '--drivers', String(share),
      '--prefix', `node${index}-`, '--seed', String(index + 1), '--source-ips', String(Math.max(4, Math.ceil(share / 40))),
      '--interval-s', '5', '--ramp-s', '10', '--duration-s', String(DURATION_S), '--json', report,
    ];
    const child = spawn('bash', ['-c', 'ulimit -n 65536 2>/dev/null || true; exec "$0" "$@"', REPLAY, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, report })));
  });
  const finished = await Promise.all(generators);
  const seconds = (Date.now() - started) / 1000;
  const serverCpu = servers.reduce((sum, server, index) => sum + cpuSeconds(server.pid) - serverBefore[index], 0);
  const postgresCpu = onPostgres ? postgresSeconds() - postgresBefore : 0;
  for (const server of servers) await stopNode(server);
  const reports = finished.map(({ report }) => JSON.parse(fs.readFileSync(report, 'utf8')));
  fs.rmSync(directory, { recursive: true, force: true });
  const sum = (key) => reports.reduce((total, report) => total + (report[key] || 0), 0);
  const acked = sum('records_acked');
  const latency = (key) => reports.map((report) => (report.latency || {})[key]).filter((value) => value !== undefined && value !== null);
  return {
    label,
    nodes,
    connected: sum('drivers_connected'),
    sent: sum('records_sent'),
    acked,
    p50: Math.max(...latency('p50_ms')),
    p99: Math.max(...latency('p99_ms')),
    serverCpu,
    postgresCpu,
    seconds,
    exitCodes: finished.map(({ code }) => code),
  };
}

const fixed = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

async function main() {
  const clusterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enroute-bench-postgres-'));
  fs.rmdirSync(clusterDir);
  const url = execFileSync(CLUSTER, ['start', clusterDir]).toString().trim();
  const results = [];
  try {
    const sqliteDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enroute-nodes-sqlite-'));
    results.push(await run('SQLite, 1 node', path.join(sqliteDir, 'bench.db'), 1, false));
    fs.rmSync(sqliteDir, { recursive: true, force: true });
    for (const nodes of [1, 2, 3]) {
      results.push(await run(`PostgreSQL, ${nodes} node${nodes > 1 ? 's' : ''}`, freshSchema(url, `bench_${nodes}`), nodes, true));
    }
  } finally {
    execFileSync(CLUSTER, ['stop', clusterDir]);
  }
  const rows = results.map((result) => {
    const perRecordUs = (cpu) => (result.acked ? (cpu / result.acked) * 1e6 : NaN);
    return `| ${result.label} | ${result.connected.toLocaleString('en')} | ${result.acked.toLocaleString('en')} of ${result.sent.toLocaleString('en')} | ${fixed(result.p50)} / ${fixed(result.p99)} ms | ${Math.round(perRecordUs(result.serverCpu))} µs | ${result.postgresCpu ? `${Math.round(perRecordUs(result.postgresCpu))} µs` : '–'} | ${Math.round(perRecordUs(result.serverCpu + result.postgresCpu))} µs |`;
  });
  const unacked = results.filter((result) => result.acked !== result.sent);
  const lossLine = unacked.length === 0
    ? 'every record sent was acknowledged in every configuration (the chaos test, `crates/mock-server/tests/chaos_nodes.rs`, is what shows none is lost when nodes fail)'
    : `records not acknowledged by the end of the run in ${unacked.map((result) => `${result.label} (${(result.sent - result.acked).toLocaleString('en')})`).join(', ')}`;
  const perRecord = (result) => (result.serverCpu + result.postgresCpu) / result.acked;
  const [sqlite, ...postgres] = results;
  const costLine = `Per record, PostgreSQL on one node costs ${(perRecord(postgres[0]) / perRecord(sqlite)).toFixed(1)}× the CPU of SQLite (its server process alone ${(postgres[0].serverCpu / postgres[0].acked / (sqlite.serverCpu / sqlite.acked)).toFixed(1)}×), and three nodes ${(perRecord(postgres[2]) / perRecord(postgres[0])).toFixed(2)}× one node.`;
  const markdown = `## Nodes: 1, 2 and 3 servers on PostgreSQL, and SQLite

\`scripts/bench nodes\` (\`bench/nodes.js\`): ${DRIVERS.toLocaleString('en')} simulated drivers (\`enroute-replay load\`), one
location record each every 5 s, connections ramped over 10 s, then a ${DURATION_S} s window; with
several nodes, one generator per node and the drivers split evenly. PostgreSQL is a throwaway
cluster on this machine (\`scripts/postgres-cluster\`, \`synchronous_commit = on\`, the same disk).
Ack latency is from sending a record to its ack, the worst node's p50 and p99. CPU time is what
the server processes and every PostgreSQL process used during the run, divided by the records
acknowledged (the generators' own CPU not counted; on this machine they share the same 2 cores).

| Store, nodes | Drivers connected | Records acked | Ack p50 / p99 | Server CPU per record | PostgreSQL CPU per record | Together |
|---|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

What it shows: ${lossLine}. ${costLine} On PostgreSQL a record costs more CPU than on SQLite: each group commit is a network round trip per
statement to another process, each batch locks its driver's row, and every node also polls
positions once a second and sweeps every 3 s. More nodes on the same 2 cores add their fixed
costs and cannot add speed; on separate machines the servers' share spreads over them while
PostgreSQL's share stays on the database's machine.`;
  writeSection('nodes', markdown);
  for (const result of results) {
    if (result.exitCodes.some((code) => code !== 0)) console.warn(`${result.label}: a generator exited with ${result.exitCodes}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
