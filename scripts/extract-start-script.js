// Part of the trunk post-build hook (scripts/precache.js runs it first): trunk writes the code
// that loads the wasm as an inline <script type="module"> in index.html. The app's Content
// Security Policy allows no inline script (see docs/security.md), so this moves that code into
// a file named after its content, `start-<hash>.js`, and loads it from there.

'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const INLINE_MODULE = /<script type="module">([\s\S]*?)<\/script>/;

function extractStartScript(staging) {
  const indexPath = path.join(staging, 'index.html');
  const html = fs.readFileSync(indexPath, 'utf8');
  const match = html.match(INLINE_MODULE);
  if (!match) {
    throw new Error('index.html has no inline <script type="module"> to move out (did trunk change?)');
  }
  const code = match[1].trim() + '\n';
  const hash = crypto.createHash('sha256').update(code).digest('hex').slice(0, 16);
  const fileName = `start-${hash}.js`;
  fs.writeFileSync(path.join(staging, fileName), code);
  const rest = html.replace(INLINE_MODULE, `<script type="module" src="/${fileName}"></script>`);
  if (/<script(?![^>]*\bsrc=)[^>]*>/.test(rest)) {
    throw new Error('index.html still has an inline script after moving the start script out');
  }
  fs.writeFileSync(indexPath, rest);
  return fileName;
}

module.exports = { extractStartScript };
