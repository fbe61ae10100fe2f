#!/usr/bin/env node
// Called by precache.js, the trunk post-build hook (see Trunk.toml), once the build's files are
// final (or run by hand: `node scripts/precompress.js DIRECTORY`): writes a brotli (`.br`,
// quality 11) and a gzip (`.gz`, level 9) copy next to every text and wasm file, so the mock
// server sends a browser the smallest it accepts without compressing on each request
// (`static_files.rs`, tower-http's precompressed files). A copy that would not be smaller is not
// written. Brotli at its highest quality is too slow to run per request, and on the wasm module
// it saves a fifth over gzip (docs/benchmarks.md, "PWA: first load").

'use strict';

const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const COMPRESSIBLE = /\.(wasm|js|css|html|json|svg|webmanifest|txt)$/;

function walk(directory) {
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    return entry.isDirectory() ? walk(full) : [full];
  });
}

/** Writes the copies for every file under `directory`; returns how many. */
function precompress(directory) {
  let written = 0;
  for (const file of walk(directory).filter((name) => COMPRESSIBLE.test(name))) {
    const original = fs.readFileSync(file);
    const mode = file.endsWith('.wasm') ? zlib.constants.BROTLI_MODE_GENERIC : zlib.constants.BROTLI_MODE_TEXT;
    const copies = {
      '.br': zlib.brotliCompressSync(original, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: original.length,
          [zlib.constants.BROTLI_PARAM_MODE]: mode,
        },
      }),
      '.gz': zlib.gzipSync(original, { level: 9 }),
    };
    for (const [extension, compressed] of Object.entries(copies)) {
      const target = file + extension;
      if (compressed.length < original.length) {
        fs.writeFileSync(target, compressed);
        written += 1;
      } else if (fs.existsSync(target)) {
        fs.rmSync(target);
      }
    }
  }
  return written;
}

module.exports = { precompress };

if (require.main === module) {
  const directory = process.argv[2];
  if (!directory) {
    console.error('usage: node scripts/precompress.js DIRECTORY');
    process.exit(1);
  }
  console.log(`precompress.js: ${precompress(directory)} compressed copies written`);
}
