#!/usr/bin/env node
// Host -> card file pipe: a process on node 0 sends a file to a process on
// node 1 over a SCIF stream; both print the file's SHA-256. The transfer rate
// is timed apart from the hashing (sender: before, receiver: after), so it is
// the stream's rate and not SHA-256's.
// Usage: node examples/file-pipe.js [FILE]
// Without FILE, a 256 MiB file of pseudo-random bytes is made in the temp dir.
// On two machines (a host and a card on a SCIF link: examples/link-file-pipe.sh):
//   card: FILE_PIPE_ROLE=receiver node examples/file-pipe.js [PORT]
//   host: FILE_PIPE_ROLE=sender node examples/file-pipe.js FILE CARD_NODE PORT
'use strict';
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const scif = require('..');

const role = process.env.FILE_PIPE_ROLE;

if (role === 'receiver') {
  // Node 1 (the "card"): accept one connection and keep what arrives in
  // memory; the transfer is timed on its own, and hashing comes after it, off
  // the transfer path, so that the two figures are SCIF's and SHA-256's.
  const server = scif.createServer((socket) => {
    const chunks = [];
    let bytes = 0;
    let first = 0n;
    socket.on('data', (chunk) => {
      if (!first) first = process.hrtime.bigint();
      chunks.push(chunk);
      bytes += chunk.length;
    });
    socket.on('end', () => {
      const secs = Number(process.hrtime.bigint() - first) / 1e9;
      const { self } = scif.getNodeIds();
      const t0 = process.hrtime.bigint();
      const hash = crypto.createHash('sha256');
      for (const c of chunks) hash.update(c);
      const digest = hash.digest('hex');
      const hashSecs = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(`node ${self} received ${bytes} bytes in ${secs.toFixed(3)} s: transfer ${gbps(bytes, secs)} GB/s`);
      console.log(`node ${self} received sha256 ${digest}  (hashed afterwards in ${hashSecs.toFixed(3)} s, ${gbps(bytes, hashSecs)} GB/s)`);
      server.close();
    });
  });
  server.listen(Number(process.argv[2] ?? 0), () => console.log(`port ${server.address().port}`));
} else if (role === 'sender') {
  // Node 0 (the "host"): hash the file first (timed on its own), then stream it.
  const [file, node, port] = process.argv.slice(2);
  const t0 = process.hrtime.bigint();
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const block = Buffer.allocUnsafe(4 << 20);
  let n;
  while ((n = fs.readSync(fd, block, 0, block.length, null)) > 0) hash.update(block.subarray(0, n));
  fs.closeSync(fd);
  const hashSecs = Number(process.hrtime.bigint() - t0) / 1e9;
  const size = fs.statSync(file).size;
  const { self } = scif.getNodeIds();
  console.log(`node ${self} sent     sha256 ${hash.digest('hex')}  (read and hashed beforehand in ${hashSecs.toFixed(3)} s, ${gbps(size, hashSecs)} GB/s)`);
  const socket = scif.connect({ node: Number(node), port: Number(port) }, () => {
    fs.createReadStream(file, { highWaterMark: 4 << 20 }).pipe(socket);
  });
  socket.on('error', (err) => {
    console.error(`sender: ${err.message}`);
    process.exitCode = 1;
  });
} else {
  main();
}

function gbps(bytes, secs) {
  return secs > 0 ? (bytes / secs / 1e9).toFixed(2) : '-';
}

function makeFile() {
  const file = path.join(os.tmpdir(), `scif-file-pipe-${process.pid}.bin`);
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(4 << 20);
  let seed = 12345;
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < block.length; j += 4) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      block.writeUInt32LE(seed, j);
    }
    fs.writeSync(fd, block);
  }
  fs.closeSync(fd);
  return file;
}

function main() {
  const given = process.argv[2];
  const file = given ?? makeFile();
  const { provider } = scif.platform();
  console.log(`file-pipe: ${file} (${fs.statSync(file).size} bytes), provider ${provider}: node 0 -> node 1`);
  const child = (r, node, args) =>
    spawn(process.execPath, [__filename, ...args], {
      env: { ...process.env, FILE_PIPE_ROLE: r, SCIF_NODE: String(node) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  const receiver = child('receiver', 1, []);
  const lines = [];
  let buffered = '';
  receiver.stdout.setEncoding('utf8');
  receiver.stdout.on('data', (text) => {
    buffered += text;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const m = /^port (\d+)$/.exec(line);
      if (m) {
        const sender = child('sender', 0, [file, '1', m[1]]);
        sender.stdout.setEncoding('utf8');
        sender.stdout.on('data', (t) => {
          process.stdout.write(t);
          lines.push(t.trim());
        });
        sender.on('exit', (code) => {
          if (code) process.exitCode = code;
        });
      } else {
        console.log(line);
        lines.push(line);
      }
    }
  });
  receiver.on('exit', (code) => {
    if (!given) fs.rmSync(file, { force: true });
    const sums = lines.map((l) => /sha256 ([0-9a-f]{64})/.exec(l)?.[1]).filter(Boolean);
    const ok = code === 0 && sums.length === 2 && sums[0] === sums[1];
    console.log(ok ? 'file-pipe: SHA-256 match' : 'file-pipe: FAILED');
    process.exitCode = ok ? process.exitCode ?? 0 : 1;
  });
}
