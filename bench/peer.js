#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The benchmark's other side. One server per transport; every accepted
// connection is greeted with one byte 'H' (so a client knows the accept has
// happened), then its first byte says what it is for:
//   'P'  ping-pong: everything received is echoed back
//   'S'  sink: a sequence of [8-byte LE length][payload]; one byte 'A' is sent
//        back once each payload has arrived in full
//   'R'  RMA (SCIF only): [8-byte LE length]; the peer registers a window of
//        that many bytes and replies with its 8-byte LE offset, then idles
//   'W'  source: a sequence of requests [8-byte LE total][8-byte LE write size];
//        the peer writes |total| bytes in writes of that size (one Buffer, reused)
//
//   node bench/peer.js --transport scif|tcp|unix [--port P] [--host H] [--path P]
//   node bench/peer.js --tcp-listen PORT [--host H]     (a TCP peer for --tcp-host runs)
//
// Prints "READY <address JSON>" on stdout once listening; runs until killed
// (or until stdin closes, when started by the runner with --exit-on-stdin-close).
'use strict';
const { listen, scif } = require('./transports');

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) o[key] = true;
    else o[key] = argv[++i];
  }
  return o;
}

function serve(socket) {
  socket.on('error', () => {});
  if (socket.setNoDelay) socket.setNoDelay(true);
  socket.write('H');
  let mode = null;
  // Sink state.
  let header = Buffer.alloc(0);
  let remaining = -1;
  // Source state: requests queued, one sent at a time.
  const queue = [];
  let pumping = false;
  let source = null;
  const pump = async () => {
    if (pumping) return;
    pumping = true;
    while (queue.length > 0) {
      const [total, size] = queue.shift();
      if (!source || source.length !== size) source = Buffer.alloc(size, 5);
      for (let left = total; left > 0; left -= size) {
        const chunk = left >= size ? source : source.subarray(0, left);
        if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
        if (socket.destroyed) return;
      }
    }
    pumping = false;
  };
  const onData = (data) => {
    let at = 0;
    if (mode === null) {
      mode = String.fromCharCode(data[0]);
      at = 1;
      if (mode === 'P') {
        if (data.length > 1) socket.write(data.subarray(1));
        socket.removeListener('data', onData);
        socket.on('data', (d) => socket.write(d));
        return;
      }
    }
    if (mode === 'S') {
      while (at < data.length) {
        if (remaining < 0) {
          const take = Math.min(8 - header.length, data.length - at);
          header = Buffer.concat([header, data.subarray(at, at + take)]);
          at += take;
          if (header.length === 8) {
            remaining = Number(header.readBigUInt64LE(0));
            header = Buffer.alloc(0);
            if (remaining === 0) {
              socket.write('A');
              remaining = -1;
            }
          }
        } else {
          const take = Math.min(remaining, data.length - at);
          remaining -= take;
          at += take;
          if (remaining === 0) {
            remaining = -1;
            socket.write('A');
          }
        }
      }
    } else if (mode === 'W') {
      header = Buffer.concat([header, data.subarray(at)]);
      while (header.length >= 16) {
        const total = Number(header.readBigUInt64LE(0));
        const size = Number(header.readBigUInt64LE(8));
        header = header.subarray(16);
        queue.push([total, size]);
      }
      pump();
    } else if (mode === 'R') {
      header = Buffer.concat([header, data.subarray(at)]);
      if (header.length >= 8 && remaining < 0) {
        remaining = 0;
        const length = Number(header.readBigUInt64LE(0));
        const memory = scif().alloc(length);
        socket.register(memory, { prot: 'rw' }).then(
          (w) => {
            socket.keep = memory;
            const reply = Buffer.alloc(8);
            reply.writeBigUInt64LE(BigInt(w.offset));
            socket.write(reply);
          },
          (err) => {
            process.stderr.write(`peer: register: ${err.message}\n`);
            socket.destroy();
          },
        );
      }
    }
  };
  socket.on('data', onData);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let transport = args.transport || 'tcp';
  const options = {};
  if (args['tcp-listen'] !== undefined) {
    transport = 'tcp';
    options.port = Number(args['tcp-listen']);
    options.host = typeof args.host === 'string' ? args.host : '0.0.0.0';
  } else {
    if (args.port !== undefined) options.port = Number(args.port);
    if (typeof args.host === 'string') options.host = args.host;
    if (typeof args.path === 'string') options.path = args.path;
  }
  const { server, address } = await listen(transport, serve, options);
  server.on('error', (err) => process.stderr.write(`peer: ${err.message}\n`));
  process.stdout.write(`READY ${JSON.stringify(address)}\n`);
  if (args['exit-on-stdin-close']) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
    process.stdin.resume();
  } else {
    process.stderr.write(`peer: ${transport} listening on ${JSON.stringify(address)}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`peer: ${err.stack || err}\n`);
  process.exit(1);
});
