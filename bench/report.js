// Writes one benchmark's section into docs/benchmarks.md, between its markers, leaving the
// other sections as they are.

'use strict';

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { execSync } = require('node:child_process');

const REPORT = path.resolve(__dirname, '..', 'docs', 'benchmarks.md');
const HEADER = `# Benchmarks

Measured by \`scripts/bench\` (which builds the release app and the mock server, then runs every
benchmark in \`bench/\` in headless Chromium). Numbers are from one run on the machine named in
each section; they are measurements, not test assertions. Rerun with \`scripts/bench\`, or one
benchmark with \`scripts/bench outbox\`.
`;

function machine() {
  let cpu = 'unknown CPU';
  try {
    cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)[1];
  } catch {}
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: __dirname }).toString().trim();
  } catch {}
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, commit ${commit}, ${new Date().toISOString().slice(0, 10)}`;
}

function writeSection(name, markdown) {
  let text = fs.existsSync(REPORT) ? fs.readFileSync(REPORT, 'utf8') : HEADER;
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${markdown.trim()}\n\n_Machine: ${machine()}._\n${end}`;
  const pattern = new RegExp(`${start}[\\s\\S]*?${end}`);
  text = pattern.test(text) ? text.replace(pattern, block) : `${text.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(REPORT, text);
  console.log(`wrote the ${name} section of ${path.relative(process.cwd(), REPORT)}`);
}

function percentile(values, fraction) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

module.exports = { writeSection, percentile };
