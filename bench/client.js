#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The measuring side of one transport at one placement. Started by run.js
// (pinned with taskset) with the peer's address; prints one JSON object a
// line on stdout: { type: 'progress', text } and { type: 'result', ... }.
//
//   node bench/client.js --transport scif|tcp|unix --address JSON --placement NAME
//        [--sizes 1024,4096,...] [--rma-size N] [--max-time S] [--trials N] [--min-bytes N]
//
// Required as a module (by bench/link.js), it exports the connection helpers
// (open, reader, close, sink, streamTotal) and the RMA set-up (rmaSetup).
'use strict';
const Benchmark = require('benchmark');
const { connect, scif } = require('./transports');

const args = {};
const main_ = require.main === module;
if (main_) for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const transport = args.transport;
const address = main_ ? JSON.parse(args.address) : null;
const placement = args.placement || 'unpinned';
const sizes = (args.sizes || '1024').split(',').map(Number);
const rmaSize = Number(args['rma-size'] || 4 << 20);
const maxTime = Number(args['max-time'] || 1);
const trials = Number(args.trials || 5);
const minBytes = Number(args['min-bytes'] || 32 << 20);
const ops = new Set((args.ops || 'roundtrip,connect,transfer,rma,stream').split(','));

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}
function progress(text) {
  emit({ type: 'progress', text: `${transport}/${placement}: ${text}` });
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function result(op, size, unit, samples) {
  emit({ type: 'result', transport, op, size, placement, median: median(samples), unit, samples });
}

// --- Connections -------------------------------------------------------------

/** Connects and waits for the peer's greeting 'H' (the accept has happened). */
function open(mode, tr = transport, addr = address) {
  return new Promise((resolve, reject) => {
    const s = connect(tr, addr);
    const onError = (err) => reject(err);
    s.once('error', onError);
    s.once('data', (d) => {
      s.removeListener('error', onError);
      s.on('error', () => {});
      if (d[0] !== 0x48 || d.length !== 1) return reject(new Error(`bad greeting ${d.toString('hex')}`));
      if (mode) s.write(mode);
      resolve(s);
    });
  });
}

/**
 * A reader that resolves once |n| bytes have arrived (and returns them); it
 * rejects if the socket closes first (a peer that gave up, e.g. on an RMA
 * registration it could not do).
 */
function reader(socket) {
  let want = 0;
  let got = [];
  let have = 0;
  let done = null;
  let fail = null;
  let closed = false;
  socket.once('close', () => {
    closed = true;
    if (fail) fail(new Error('the peer closed the connection'));
  });
  socket.on('data', (d) => {
    got.push(d);
    have += d.length;
    if (done && have >= want) {
      const buf = got.length === 1 ? got[0] : Buffer.concat(got);
      got = [];
      have = 0;
      const f = done;
      done = null;
      fail = null;
      f(buf);
    }
  });
  return (n) =>
    new Promise((resolve, reject) => {
      want = n;
      if (have >= n) {
        const buf = got.length === 1 ? got[0] : Buffer.concat(got);
        got = [];
        have = 0;
        resolve(buf);
      } else if (closed) {
        reject(new Error('the peer closed the connection'));
      } else {
        done = resolve;
        fail = reject;
      }
    });
}

function close(socket) {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once('close', () => resolve());
    socket.destroy();
  });
}

// --- benchmark.js: per-operation figures ---------------------------------------

/** Runs |op| (returning a Promise) as a deferred benchmark; resolves to seconds per op samples. */
function bench(name, op) {
  return new Promise((resolve, reject) => {
    const b = new Benchmark(name, {
      defer: true,
      fn: (deferred) => op().then(() => deferred.resolve(), (err) => { b.abort(); reject(err); }),
      maxTime,
      minSamples: 5,
      initCount: 1,
    });
    b.on('complete', () => {
      if (b.error) reject(b.error);
      else resolve(b.stats.sample);
    });
    b.run({ async: true });
  });
}
const us = (samples) => samples.map((s) => s * 1e6);

async function roundTrip() {
  progress('8-byte round trip');
  const s = await open('P');
  const read = reader(s);
  const msg = Buffer.alloc(8, 7);
  const samples = await bench('roundtrip', async () => {
    s.write(msg);
    await read(8);
  });
  result('roundtrip', 8, 'us', us(samples));
  await close(s);
}

async function connectAccept() {
  progress('connect+accept');
  const samples = await bench('connect', async () => {
    const s = await open(null);
    s.destroy();
  });
  result('connect', 0, 'us', us(samples));
}

/** A sink connection: send(n, chunk) resolves once the peer has all n bytes. */
async function sink(tr = transport, addr = address) {
  const s = await open('S', tr, addr);
  const read = reader(s);
  const header = Buffer.alloc(8);
  const send = async (total, chunk) => {
    header.writeBigUInt64LE(BigInt(total));
    s.write(Buffer.from(header));
    let left = total;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        await new Promise((r) => s.once('drain', r));
      }
    }
    await read(1);
  };
  return { socket: s, send };
}

async function transfer() {
  progress(`one ${rmaSize}-byte transfer (stream, acknowledged)`);
  const { socket, send } = await sink();
  const chunk = Buffer.alloc(rmaSize, 1);
  const samples = await bench('transfer', () => send(rmaSize, chunk));
  result('transfer', rmaSize, 'us', us(samples));
  await close(socket);
}

/** Bytes per throughput trial at a write (or copy) size: at least 4 writes, up to minBytes (4096 writes at most). */
function streamTotal(size, min = minBytes) {
  return Math.max(size * 4, Math.min(min, size * 4096));
}

async function stream() {
  const { socket, send } = await sink();
  for (const size of sizes) {
    progress(`stream throughput, ${size}-byte writes`);
    const chunk = Buffer.alloc(size, 2);
    const total = streamTotal(size);
    await send(total, chunk); // warm-up
    const gbs = [];
    for (let t = 0; t < trials; t++) {
      const t0 = process.hrtime.bigint();
      await send(total, chunk);
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      gbs.push(total / dt / 1e9);
    }
    result('stream', size, 'GB/s', gbs);
  }
  await close(socket);
}

/**
 * RMA between two windows of |windowSize| bytes: ours (scif.alloc memory,
 * registered first, so a provider without RMA on this connection fails here,
 * before the peer is asked) and the peer's (bench/peer.js mode 'R').
 * Resolves to { copy(dir, size, at), done() }; copy is a sync writeTo/readFrom
 * at offset |at| of both windows.
 */
async function rmaSetup(windowSize, tr = transport, addr = address) {
  const s = await open(null, tr, addr);
  const memory = scif().alloc(windowSize);
  memory.fill(3);
  let local;
  try {
    local = await s.register(memory, { prot: 'rw' });
  } catch (err) {
    await close(s);
    throw err;
  }
  const read = reader(s);
  s.write('R');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(windowSize));
  s.write(len);
  let remote;
  try {
    remote = Number((await read(8)).readBigUInt64LE(0));
  } catch (err) {
    await close(s);
    throw new Error(`the peer could not register its window (${err.message}; see its stderr)`);
  }
  const opts = { sync: true };
  const copy = (dir, size, at) =>
    dir === 'writeTo'
      ? s.writeTo(local.offset + at, size, remote + at, opts)
      : s.readFrom(local.offset + at, size, remote + at, opts);
  const done = async () => {
    await local.unregister();
    await close(s);
  };
  return { copy, done };
}

async function rma() {
  const windowSize = Math.max(rmaSize, ...sizes);
  progress(`RMA setup (${windowSize}-byte windows)`);
  const { copy: copyDir, done: finish } = await rmaSetup(windowSize);
  for (const dir of ['writeTo', 'readFrom']) {
    const copy = (size, at) => copyDir(dir, size, at);
    progress(`one ${rmaSize}-byte ${dir}`);
    const samples = await bench(dir, () => copy(rmaSize, 0));
    result(dir, rmaSize, 'us', us(samples));
    for (const size of sizes) {
      progress(`RMA ${dir} throughput, ${size}-byte copies`);
      const total = streamTotal(size);
      await copy(size, 0);
      const gbs = [];
      for (let t = 0; t < trials; t++) {
        let done = 0;
        const t0 = process.hrtime.bigint();
        while (done < total) {
          // Same source and target each time, as the stream driver writes one chunk over and over.
          await copy(size, 0);
          done += size;
        }
        const dt = Number(process.hrtime.bigint() - t0) / 1e9;
        gbs.push(done / dt / 1e9);
      }
      result(`rma-${dir}`, size, 'GB/s', gbs);
    }
  }
  await finish();
}

async function main() {
  if (ops.has('roundtrip')) await roundTrip();
  if (ops.has('connect')) await connectAccept();
  if (ops.has('transfer')) await transfer();
  if (ops.has('stream')) await stream();
  if (ops.has('rma') && transport === 'scif') await rma();
}

if (main_) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`client ${transport}/${placement}: ${err.stack || err}\n`);
      process.exit(1);
    },
  );
}

module.exports = { open, reader, close, sink, streamTotal, rmaSetup, median };
