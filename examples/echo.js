#!/usr/bin/env node
// One command for the echo pair: an echo server on node 0 and a client on
// node 1, each in its own process, as on a host and a card.
// Usage: node examples/echo.js [message...]
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');

const env = (node) => ({ ...process.env, SCIF_NODE: String(node) });
const server = spawn(process.execPath, [path.join(__dirname, 'echo-server.js')], {
  env: env(0),
  stdio: ['ignore', 'pipe', 'inherit'],
});
let buffered = '';
server.stdout.setEncoding('utf8');
server.stdout.on('data', (text) => {
  process.stdout.write(text);
  buffered += text;
  const m = /^listening (\d+):(\d+)$/m.exec(buffered);
  if (!m) return;
  buffered = '';
  server.stdout.removeAllListeners('data');
  server.stdout.pipe(process.stdout);
  const client = spawn(
    process.execPath,
    [path.join(__dirname, 'echo-client.js'), m[1], m[2], ...process.argv.slice(2)],
    { env: env(1), stdio: 'inherit' },
  );
  client.on('exit', (code) => {
    server.kill('SIGTERM');
    process.exitCode = code ?? 1;
  });
});
server.on('exit', (code, signal) => {
  if (code && signal !== 'SIGTERM') process.exitCode = code;
});
