#!/usr/bin/env node
// Ping-pong through an mmap'ed window: node 1 registers one page, node 0
// maps it; then they bounce a counter through it with plain loads and
// stores (no system calls, no event loop) and report the round trip.
// Usage: node examples/rma-pingpong.js [round trips]
'use strict';
const { spawn } = require('node:child_process');
const scif = require('..');

const ROUNDS = Number(process.env.PINGPONG_ROUNDS ?? process.argv[2] ?? 100000);
// Two counters on separate cache lines: PING (written by node 0), PONG (by node 1).
const PING = 0;
const PONG = 16; // Int32 index: byte 64

if (process.env.PINGPONG_ROLE === 'owner') {
  const server = scif.createServer(async (socket) => {
    const page = scif.alloc(scif.PAGE_SIZE);
    const window = await socket.register(page);
    const words = new Int32Array(page.buffer, page.byteOffset, page.length / 4);
    socket.write(JSON.stringify({ offset: window.offset }) + '\n');
    // Answer every ping with the same number, until the last one.
    // (If the mapper goes quiet for 10 s, give up rather than spin forever.)
    let idle = 0;
    let last = Date.now();
    for (let seen = 0; seen < ROUNDS; ) {
      const v = Atomics.load(words, PING);
      if (v !== seen) {
        seen = v;
        Atomics.store(words, PONG, v);
        idle = 0;
      } else if (++idle % 1000000 === 0) {
        if (Date.now() - last > 10000) {
          console.error('rma-pingpong: the mapper went quiet');
          process.exit(1);
        }
      } else if (idle === 1) {
        last = Date.now();
      }
    }
    socket.end();
    server.close();
  });
  server.listen(0, () => console.log(`port ${server.address().port}`));
} else if (process.env.PINGPONG_ROLE === 'mapper') {
  const socket = scif.connect({ node: 1, port: Number(process.argv[2]) });
  socket.setEncoding('utf8');
  socket.once('data', (line) => {
    const { offset } = JSON.parse(line);
    const mapping = socket.mmap(offset, scif.PAGE_SIZE);
    const words = new Int32Array(mapping.buffer.buffer, mapping.buffer.byteOffset, scif.PAGE_SIZE / 4);
    const start = process.hrtime.bigint();
    for (let i = 1; i <= ROUNDS; i++) {
      Atomics.store(words, PING, i);
      while (Atomics.load(words, PONG) !== i);
    }
    const ns = Number(process.hrtime.bigint() - start) / ROUNDS;
    console.log(`${ROUNDS} round trips of 4 bytes through an mmap'ed window: ${(ns / 1000).toFixed(3)} µs each`);
    mapping.unmap();
  });
  socket.on('error', (err) => {
    console.error(`mapper: ${err.message}`);
    process.exitCode = 1;
  });
} else {
  console.log(`rma-pingpong: node 0 maps a window of node 1, provider ${scif.platform().provider}`);
  const child = (role, node, args) =>
    spawn(process.execPath, [__filename, ...args], {
      env: { ...process.env, PINGPONG_ROLE: role, SCIF_NODE: String(node), PINGPONG_ROUNDS: String(ROUNDS) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  const owner = child('owner', 1, []);
  let ok = false;
  owner.stdout.setEncoding('utf8');
  owner.stdout.on('data', (text) => {
    const port = /^port (\d+)$/m.exec(text);
    if (!port) return;
    const mapper = child('mapper', 0, [port[1]]);
    mapper.stdout.setEncoding('utf8');
    mapper.stdout.on('data', (t) => {
      process.stdout.write(t);
      if (/round trips/.test(t)) ok = true;
    });
  });
  owner.on('exit', (code) => {
    setTimeout(() => {
      process.exitCode = ok && code === 0 ? 0 : 1;
    }, 200);
  });
}
