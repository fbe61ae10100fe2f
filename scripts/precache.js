#!/usr/bin/env node
// Trunk post-build hook (see Trunk.toml): writes the precache list and the build version into
// the staged service worker, so a build's worker knows every file of that build and a new
// build's worker is a new worker (the browser installs it and waits, see service-worker.js).

'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) {
  console.error('precache.js: TRUNK_STAGING_DIR is not set; run it as a trunk post_build hook');
  process.exit(1);
}

function walk(directory, prefix = '') {
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    return entry.isDirectory() ? walk(path.join(directory, entry.name), relative) : [relative];
  });
}

// First move trunk's inline start script into a file: it must be in the list below.
const startScript = require('./extract-start-script').extractStartScript(staging);
console.log(`precache.js: start script moved to ${startScript}`);

const files = walk(staging).filter((file) => file !== 'service-worker.js').sort();
const hash = crypto.createHash('sha256');
for (const file of files) {
  hash.update(file);
  hash.update(fs.readFileSync(path.join(staging, file)));
}
const version = hash.digest('hex').slice(0, 12);
const precache = files.map((file) => `/${file}`);

const workerPath = path.join(staging, 'service-worker.js');
const worker = fs.readFileSync(workerPath, 'utf8');
const versionLine = /^const VERSION = .*$/m;
const precacheLine = /^const PRECACHE = .*$/m;
const layoutLine = /^const LAYOUT = .*$/m;
if (!versionLine.test(worker) || !precacheLine.test(worker) || !layoutLine.test(worker)) {
  console.error('precache.js: service-worker.js lacks a "const VERSION = …", "const PRECACHE = …" or "const LAYOUT = …" line to fill');
  process.exit(1);
}
// The app's IndexedDB layout, the same file build.rs makes the app's constants from.
const layout = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'device-layout.json'), 'utf8'));
delete layout._about;
fs.writeFileSync(
  workerPath,
  worker
    .replace(versionLine, `const VERSION = ${JSON.stringify(version)}; // written by scripts/precache.js`)
    .replace(precacheLine, `const PRECACHE = ${JSON.stringify(precache)}; // written by scripts/precache.js`)
    .replace(layoutLine, `const LAYOUT = ${JSON.stringify(layout)}; // device-layout.json, written by scripts/precache.js`),
);
console.log(`precache.js: version ${version}, ${precache.length} files`);

// Last, once every file is final: brotli and gzip copies for the server to send as they are.
const copies = require('./precompress').precompress(staging);
console.log(`precache.js: ${copies} compressed copies written (scripts/precompress.js)`);
