#!/usr/bin/env node
// Bulk transfer by RMA with a fence: a process on node 0 writes 64 MiB into
// a window registered by a process on node 1 (writeTo, asynchronous), then
// asks for a fence signal: a flag in the receiver's window that is written
// only once every copy before it has landed. The receiver waits for the
// flag, then both print the data's SHA-256.
// Usage: node examples/rma-bulk.js [MiB]
'use strict';
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const scif = require('..');

const MiB = Number(process.env.RMA_BULK_MIB ?? process.argv[2] ?? 64);
const SIZE = MiB << 20;
const CHUNK = 4 << 20;
const FLAG = SIZE; // the flag lives in the page after the data

if (process.env.RMA_ROLE === 'receiver') {
  const server = scif.createServer(async (socket) => {
    const memory = scif.alloc(SIZE + scif.PAGE_SIZE);
    const window = await socket.register(memory, { prot: 'rw' });
    socket.write(JSON.stringify({ offset: window.offset }) + '\n');
    const flag = new BigUint64Array(memory.buffer, memory.byteOffset + FLAG, 1);
    const start = process.hrtime.bigint();
    (function poll() {
      if (flag[0] !== 1n) return setImmediate(poll);
      const secs = Number(process.hrtime.bigint() - start) / 1e9;
      const sum = crypto.createHash('sha256').update(memory.subarray(0, SIZE)).digest('hex');
      console.log(`node 1 window filled: ${SIZE} bytes  sha256 ${sum}  (flag seen after ${(secs * 1e3).toFixed(1)} ms)`);
      socket.end();
      server.close();
    })();
  });
  server.listen(0, () => console.log(`port ${server.address().port}`));
} else if (process.env.RMA_ROLE === 'sender') {
  const socket = scif.connect({ node: 1, port: Number(process.argv[2]) });
  socket.setEncoding('utf8');
  socket.once('data', async (line) => {
    const { offset } = JSON.parse(line);
    const source = scif.alloc(SIZE);
    crypto.randomFillSync(source);
    const local = await socket.register(source, { prot: 'r' });
    const start = process.hrtime.bigint();
    const copies = [];
    for (let at = 0; at < SIZE; at += CHUNK) {
      copies.push(socket.writeTo(local.offset + at, Math.min(CHUNK, SIZE - at), offset + at));
    }
    // The flag is written only after every writeTo above has completed.
    await socket.fenceSignal({ remote: { offset: offset + FLAG, value: 1n } });
    await Promise.all(copies);
    const secs = Number(process.hrtime.bigint() - start) / 1e9;
    const sum = crypto.createHash('sha256').update(source).digest('hex');
    console.log(`node 0 wrote          ${SIZE} bytes  sha256 ${sum}  (${(SIZE / secs / 1e9).toFixed(2)} GB/s)`);
  });
  socket.on('error', (err) => {
    console.error(`sender: ${err.message}`);
    process.exitCode = 1;
  });
} else {
  console.log(`rma-bulk: ${MiB} MiB by RMA, node 0 -> node 1, provider ${scif.platform().provider}`);
  const child = (role, node, args) =>
    spawn(process.execPath, [__filename, ...args], {
      env: { ...process.env, RMA_ROLE: role, SCIF_NODE: String(node), RMA_BULK_MIB: String(MiB) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  const receiver = child('receiver', 1, []);
  const sums = [];
  const collect = (text) => {
    for (const line of text.split('\n').filter(Boolean)) {
      const port = /^port (\d+)$/.exec(line);
      if (port) {
        const sender = child('sender', 0, [port[1]]);
        sender.stdout.setEncoding('utf8');
        sender.stdout.on('data', collect);
        continue;
      }
      console.log(line);
      const m = /sha256 ([0-9a-f]{64})/.exec(line);
      if (m) sums.push(m[1]);
    }
  };
  receiver.stdout.setEncoding('utf8');
  receiver.stdout.on('data', collect);
  receiver.on('exit', (code) => {
    setTimeout(() => {
      const ok = code === 0 && sums.length === 2 && sums[0] === sums[1];
      console.log(ok ? 'rma-bulk: SHA-256 match' : 'rma-bulk: FAILED');
      process.exitCode = ok ? 0 : 1;
    }, 200);
  });
}
