#!/usr/bin/env node
// Sends lines to an echo server and prints what comes back.
// Usage: node examples/echo-client.js NODE PORT [message...]
'use strict';
const scif = require('..');

const [node, port] = process.argv.slice(2, 4).map(Number);
const messages = process.argv.slice(4);
if (messages.length === 0) messages.push('hello over SCIF', 'and goodbye');

const socket = scif.connect({ node, port }, () => {
  console.log(`echo-client: connected ${socket.localNode}:${socket.localPort} -> ${node}:${port}`);
  socket.write(messages.join('\n') + '\n');
});
let received = '';
const expected = messages.join('\n') + '\n';
socket.setEncoding('utf8');
socket.on('data', (text) => {
  received += text;
  if (received.length >= expected.length) {
    for (const line of received.trimEnd().split('\n')) console.log(`echo-client: echoed "${line}"`);
    socket.end();
  }
});
socket.on('close', (hadError) => {
  process.exitCode = !hadError && received === expected ? 0 : 1;
});
socket.on('error', (err) => console.error(`echo-client: ${err.message}`));
