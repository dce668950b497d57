#!/usr/bin/env node
// prepack: the linux-x64 N-API prebuild (prebuildify --napi --strip) into
// prebuilds/. prebuildify runs `node-gyp rebuild`, which deletes build/ first,
// so it runs on a copy of the addon's sources in a temp dir: the checkout's
// build/ (the dev build, test logs) is left alone.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'scif-prebuild-'));
try {
  for (const f of ['package.json', 'binding.gyp']) fs.copyFileSync(path.join(root, f), path.join(tmp, f));
  fs.cpSync(path.join(root, 'native'), path.join(tmp, 'native'), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(tmp, 'node_modules'));
  const bin = path.join(root, 'node_modules', 'prebuildify', 'bin.js');
  const r = spawnSync(process.execPath, [bin, '--napi', '--strip', '--cwd', tmp, '--out', root], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
