#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The measuring side of one transport at one placement. Started by run.js
// (pinned with taskset) with the peer's address, it keeps its connections
// open and measures one trial at a time when the runner asks, so that the
// runner can interleave the transports trial by trial (drift on the machine
// then hits all of them alike).
//
//   node bench/client.js --transport scif|tcp|unix --address JSON --placement NAME
//
// Commands, one JSON object a line on stdin; one reply a line on stdout:
//   { id, op: 'roundtrip' | 'connect' | 'transfer' | 'writeTo' | 'readFrom', batch: S, size? }
//       → { type: 'trial', id, value }: µs per operation, the mean over a batch
//         of at least S seconds (and at least 5 operations)
//   { id, op: 'stream' | 'rma-writeTo' | 'rma-readFrom', size, total }
//       → { type: 'trial', id, value }: GB/s moving |total| bytes in |size| writes/copies
//   { id, op: 'stream-onread', size, total }
//       → GB/s: the peer writes |total| bytes in |size| writes, read here with
//         connect({ onread }) into one reused 1 MiB buffer (no allocation per read)
//   { id, op: 'scale', connections, size, total }
//       → { type: 'trial', id, value: { aggregate, slowest, fastest, rssIdle, rssBase } }
//   { op: 'quit' }
// A failure is { type: 'error', id, message }; a line that is not JSON is stderr noise.
//
// Required as a module (by bench/link.js), it exports the connection helpers
// (open, reader, close, sink, streamTotal) and the RMA set-up (rmaSetup).
'use strict';
const readline = require('node:readline');
const { connect, scif } = require('./transports');

const args = {};
const main_ = require.main === module;
if (main_) for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const transport = args.transport;
const address = main_ ? JSON.parse(args.address) : null;
const minBytes = Number(args['min-bytes'] || 32 << 20);

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const now = () => Number(process.hrtime.bigint()) / 1e9;

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

/** Bytes per throughput trial at a write (or copy) size: at least 4 writes, up to minBytes (4096 writes at most). */
function streamTotal(size, min = minBytes) {
  return Math.max(size * 4, Math.min(min, size * 4096));
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
  return { copy, done, windowSize };
}

// --- One trial of each figure --------------------------------------------------

/** µs per call of |op| (a Promise), the mean over at least |batch| seconds and 5 calls. */
async function batchMean(batch, op) {
  let n = 0;
  const t0 = now();
  let t = t0;
  while (n < 5 || t - t0 < batch) {
    await op();
    n++;
    t = now();
  }
  return ((t - t0) / n) * 1e6;
}

// Connections and buffers made on first use and kept between trials.
const state = {};

async function pingConnection() {
  if (!state.ping) {
    const s = await open('P');
    state.ping = { socket: s, read: reader(s), msg: Buffer.alloc(8, 7) };
  }
  return state.ping;
}
/** A connection reading with onread into one reused buffer; receive(total, size) resolves once |total| bytes came. */
function onreadConnection() {
  if (state.onread) return state.onread;
  state.onread = new Promise((resolve, reject) => {
    const buffer = Buffer.alloc(1 << 20);
    let greeted = false;
    let want = 0;
    let done = null;
    const s = connect(transport, address, {
      onread: {
        buffer,
        callback: (n) => {
          if (!greeted) {
            greeted = true;
            s.write('W');
            resolve({ socket: s, receive });
            n -= 1;
          }
          want -= n;
          if (done && want <= 0) {
            const d = done;
            done = null;
            d();
          }
        },
      },
    });
    s.once('error', reject);
    const receive = (total, size) =>
      new Promise((r) => {
        want += total;
        done = r;
        const req = Buffer.alloc(16);
        req.writeBigUInt64LE(BigInt(total), 0);
        req.writeBigUInt64LE(BigInt(size), 8);
        s.write(req);
      });
  });
  return state.onread;
}

async function sinkConnection() {
  if (!state.sink) state.sink = await sink();
  return state.sink;
}
async function rmaConnection(size) {
  if (state.rma && state.rma.windowSize < size) {
    await state.rma.done();
    state.rma = null;
  }
  if (!state.rma) state.rma = await rmaSetup(Math.max(size, 4 << 20));
  return state.rma;
}
function chunkOf(size, fill) {
  state.chunks = state.chunks || new Map();
  const key = `${size}/${fill}`;
  if (!state.chunks.has(key)) state.chunks.set(key, Buffer.alloc(size, fill));
  return state.chunks.get(key);
}

function rssBytes() {
  return process.memoryUsage.rss ? process.memoryUsage.rss() : process.memoryUsage().rss;
}

/**
 * |connections| sink connections, all opened first (the idle RSS is taken
 * then), then each sends |total| bytes in |size| writes at the same time.
 * Per connection GB/s from its own start to its own acknowledgement; the
 * aggregate is all bytes over the time from the first start to the last ack.
 */
async function scale(connections, size, total) {
  if (global.gc) global.gc();
  const rssBase = rssBytes();
  const conns = [];
  // Open in small groups: a listener's backlog is finite (1024, and less for TCP's somaxconn).
  for (let i = 0; i < connections; i += 64) {
    const group = [];
    for (let j = i; j < Math.min(connections, i + 64); j++) group.push(sink());
    conns.push(...(await Promise.all(group)));
  }
  if (global.gc) global.gc();
  const rssIdle = rssBytes();
  const chunk = chunkOf(size, 4);
  const t0 = now();
  const per = await Promise.all(
    conns.map(async (c) => {
      const a = now();
      await c.send(total, chunk);
      return total / (now() - a) / 1e9;
    }),
  );
  const dt = now() - t0;
  await Promise.all(conns.map((c) => close(c.socket)));
  return {
    aggregate: (total * connections) / dt / 1e9,
    slowest: Math.min(...per),
    fastest: Math.max(...per),
    rssBase,
    rssIdle,
    perIdleConnection: (rssIdle - rssBase) / connections,
  };
}

async function trial(cmd) {
  switch (cmd.op) {
    case 'roundtrip': {
      const { socket, read, msg } = await pingConnection();
      return batchMean(cmd.batch, async () => {
        socket.write(msg);
        await read(8);
      });
    }
    case 'connect':
      return batchMean(cmd.batch, async () => {
        const s = await open(null);
        s.destroy();
      });
    case 'transfer': {
      const { send } = await sinkConnection();
      const chunk = chunkOf(cmd.size, 1);
      return batchMean(cmd.batch, () => send(cmd.size, chunk));
    }
    case 'stream': {
      const { send } = await sinkConnection();
      const chunk = chunkOf(cmd.size, 2);
      const t0 = now();
      await send(cmd.total, chunk);
      return cmd.total / (now() - t0) / 1e9;
    }
    case 'stream-onread': {
      const { receive } = await onreadConnection();
      const t0 = now();
      await receive(cmd.total, cmd.size);
      return cmd.total / (now() - t0) / 1e9;
    }
    case 'writeTo':
    case 'readFrom': {
      const { copy } = await rmaConnection(cmd.size);
      return batchMean(cmd.batch, () => copy(cmd.op, cmd.size, 0));
    }
    case 'rma-writeTo':
    case 'rma-readFrom': {
      const dir = cmd.op.slice(4);
      const { copy } = await rmaConnection(cmd.size);
      let done = 0;
      const t0 = now();
      while (done < cmd.total) {
        // Same source and target each time, as the stream driver writes one chunk over and over.
        await copy(dir, cmd.size, 0);
        done += cmd.size;
      }
      return done / (now() - t0) / 1e9;
    }
    case 'scale':
      return scale(cmd.connections, cmd.size, cmd.total);
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

async function quit() {
  for (const k of ['ping', 'sink']) if (state[k]) await close(state[k].socket);
  if (state.onread) await close((await state.onread).socket);
  if (state.rma) await state.rma.done();
}

function serve() {
  const rl = readline.createInterface({ input: process.stdin });
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch {
      emit({ type: 'error', message: `bad command ${line}` });
      return;
    }
    chain = chain.then(async () => {
      if (cmd.op === 'quit') {
        await quit().catch(() => {});
        process.exit(0);
      }
      try {
        emit({ type: 'trial', id: cmd.id, value: await trial(cmd) });
      } catch (err) {
        emit({ type: 'error', id: cmd.id, message: `${transport}: ${err.stack || err}` });
      }
    });
  });
  rl.on('close', () => chain.then(() => process.exit(0)));
}

if (main_) serve();

module.exports = { open, reader, close, sink, streamTotal, rmaSetup, median };
