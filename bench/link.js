#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// npm run bench:link, inside the two guests of test/guest/link.sh: SCIF across
// the link against Node TCP over the virtio-net link between the same guests.
// Started by `node bench/run.js --link` (which boots the guests and reports);
// not meant to be run by hand.
//
//   node bench/link.js --sizes 4096,... --trials N --min-bytes N --batch-time S [--rma-size N]
//                      [--ops roundtrip,connect,transfer,stream,rma]
//
// SCIF_LINK_NODE=0 (the "host" guest): brings eth0 up and starts bench/peer.js
// twice (SCIF on port 3100, TCP on [::]:3101), then a control server on
// [::]:3102 for the card, and stays until the card says DONE.
// SCIF_LINK_NODE=1 (the "card" guest): waits for node 0 and the control
// server, then measures SCIF and TCP interleaved, trial by trial (alternating
// which goes first), with the helpers of bench/client.js; RMA through
// client.js's rmaSetup (the code path of `npm run bench`), reported as n/a when
// the kernel refuses it with EOPNOTSUPP; and the guest's own memcpy (copybw) and
// kernel copy rate (a pipe).
// Progress lines start with "bench-link: "; the rows go to
// $SCIF_LINK_DIR/bench-link.json as { meta, results, notes }, rewritten after
// every phase (meta.complete is false until the end, so a run that dies midway
// still shows what it measured, and meta.phase where it died).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { open, reader, close, sink, streamTotal, rmaSetup, median } = require('./client');

const HERE = __dirname;
const SCIF_PORT = 3100;
const TCP_PORT = 3101;
const CONTROL_PORT = 3102;
const HOST_LL = 'fe80::5054:ff:fe00:1%eth0'; // node 0's link-local address (MAC 52:54:00:00:00:01)
const PLACEMENT = 'link';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const sizes = (args.sizes || '4096,65536,1048576,4194304').split(',').map(Number);
const trials = Number(args.trials || 3);
const minBytes = Number(args['min-bytes'] || 8 << 20);
const batchTime = Number(args['batch-time'] || 0.3);
const rmaSize = Number(args['rma-size'] || 4 << 20);
const ops = new Set((args.ops || 'roundtrip,connect,transfer,stream,rma').split(','));
const node = Number(process.env.SCIF_LINK_NODE);
const linkDir = process.env.SCIF_LINK_DIR;

const started = Date.now();
function say(text) {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stdout.write(`bench-link: [${t}s] ${text}\n`);
}
function die(text) {
  process.stdout.write(`bench-link: FAIL: ${text}\n`);
  process.exit(1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function ethUp() {
  const r = spawnSync('bash', ['-c', 'modprobe virtio_net && ip link set eth0 up'], { encoding: 'utf8' });
  if (r.status !== 0) die(`eth0 up: ${r.stderr || r.error}`);
}

// --- node 0: the servers ---------------------------------------------------------

function startPeer(transport, extra) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(HERE, 'peer.js'), '--transport', transport, ...extra, '--exit-on-stdin-close'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const rl = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${transport} peer did not start`)), 120000);
    child.once('exit', (code) => reject(new Error(`${transport} peer exited (${code})`)));
    rl.on('line', (line) => {
      if (line.startsWith('READY ')) {
        clearTimeout(timer);
        resolve({ child, address: JSON.parse(line.slice(6)) });
      }
    });
  });
}

async function host() {
  ethUp();
  const scifPeer = await startPeer('scif', ['--port', String(SCIF_PORT)]);
  const tcpPeer = await startPeer('tcp', ['--port', String(TCP_PORT), '--host', '::']);
  say(`peers listening: SCIF ${JSON.stringify(scifPeer.address)}, TCP ${JSON.stringify(tcpPeer.address)}`);
  let stopping = false;
  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    for (const p of [scifPeer, tcpPeer]) p.child.stdin.end();
    setTimeout(() => process.exit(code), 500);
  };
  const control = net.createServer((c) => {
    say('the card connected to the control port');
    c.write(`READY ${JSON.stringify({ scif: { node: 0, port: SCIF_PORT }, tcp: { port: TCP_PORT } })}\n`);
    let done = false;
    onLines(c, (line) => {
      if (line === 'STATS') c.write(`STATS ${JSON.stringify(linkCounters())}\n`);
      else if (line === 'DONE') {
        done = true;
        say('the card is done');
        c.end();
        control.close();
        stop(0);
      }
    });
    c.on('error', () => {});
    c.on('close', () => {
      if (!done) {
        say('FAIL: the control connection closed before the card was done');
        stop(1);
      }
    });
  });
  control.listen({ port: CONTROL_PORT, host: '::' });
  // Don't outlive a card that failed: its harness unloads scif.ko at the end, so node 1
  // leaves; and give up if no card ever connects.
  const scif = require('..');
  let seen = false;
  let connected = false;
  control.on('connection', () => {
    connected = true;
  });
  const t0 = Date.now();
  setInterval(() => {
    let nodes = [];
    try {
      nodes = scif.getNodeIds().nodes;
    } catch {}
    if (nodes.includes(1)) seen = true;
    else if (seen) {
      say('FAIL: node 1 (the card) left the link before it was done');
      stop(1);
    }
    if (!connected && Date.now() - t0 > 600e3) {
      say('FAIL: no card on the control port in 600 s');
      stop(1);
    }
  }, 2000).unref();
}

// --- node 1: the measurements --------------------------------------------------------

const results = [];
const notes = [];
function result(transport, op, size, unit, samples) {
  const r = { transport, op, size, placement: PLACEMENT, median: median(samples), unit, samples };
  results.push(r);
  return r;
}
function show(r) {
  const v = r.unit === 'us' ? `${r.median.toFixed(r.median < 100 ? 1 : 0)} µs` : `${(r.median * 1000).toFixed(r.median < 0.1 ? 1 : 0)} MB/s`;
  return `${r.transport} ${v}`;
}

/** This guest's link counters (debugfs scif/link/irqs: doorbell interrupts; works: their work items). */
const linkStats = {};
function linkCounters() {
  const read = (f) => {
    try {
      return Number(fs.readFileSync(`/sys/kernel/debug/scif/link/${f}`, 'utf8').trim());
    } catch {
      return NaN;
    }
  };
  return { irqs: read('irqs'), works: read('works') };
}

async function waitForNode0() {
  const scif = require('..');
  for (let i = 0; ; i++) {
    let ids;
    try {
      ids = scif.getNodeIds();
    } catch (err) {
      ids = { error: err.code || err.message };
    }
    if (ids.nodes && ids.nodes.includes(0) && ids.self !== 0) return ids;
    if (i >= 240) die(`node 0 never appeared on the link (getNodeIds: ${JSON.stringify(ids)})`);
    await sleep(500);
  }
}

async function controlConnect() {
  for (let i = 0; ; i++) {
    try {
      return await new Promise((resolve, reject) => {
        const c = net.connect({ host: HOST_LL, port: CONTROL_PORT });
        let buf = '';
        const onError = (err) => {
          c.destroy();
          reject(err);
        };
        c.on('error', onError);
        c.on('close', () => reject(new Error('closed before READY')));
        const onData = (d) => {
          buf += d;
          const nl = buf.indexOf('\n');
          if (nl < 0) return;
          c.removeListener('data', onData);
          c.removeListener('error', onError);
          c.on('error', () => {});
          const line = buf.slice(0, nl);
          if (!line.startsWith('READY ')) return onError(new Error(`bad control line ${line}`));
          resolve({ c, info: JSON.parse(line.slice(6)) });
        };
        c.on('data', onData);
      });
    } catch (err) {
      // IPv6 DAD, the host guest still booting or starting its peers
      if (i >= 180) die(`no control connection to [${HOST_LL}]:${CONTROL_PORT}: ${err.message}`);
      await sleep(1000);
    }
  }
}

/** Mean seconds per op over a batch of at least batchTime seconds (and |min| ops). */
async function batch(op, min = 3) {
  let n = 0;
  const t0 = process.hrtime.bigint();
  let dt = 0;
  while (n < min || dt < batchTime) {
    await op();
    n++;
    dt = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  return dt / n;
}

/**
 * Interleaved trials: |fns| maps transport → async () => sample. One warm-up
 * each, then |trials| rounds, SCIF first in even rounds and TCP first in odd ones.
 */
async function interleave(fns) {
  const names = Object.keys(fns);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) await fns[n]();
  for (let t = 0; t < trials; t++) {
    const order = t % 2 ? [...names].reverse() : names;
    for (const n of order) samples[n].push(await fns[n]());
  }
  return samples;
}

function memcpy() {
  const bin = path.join(HERE, 'out', 'copybw');
  if (!fs.existsSync(bin)) die(`${path.relative(process.cwd(), bin)} missing (node bench/run.js --build-only on the host)`);
  const r = spawnSync(bin, ['memcpy', String(rmaSize), String(Math.max(5, trials))], { encoding: 'utf8' });
  if (r.status !== 0) die(`copybw memcpy: ${r.stderr || r.error}`);
  const j = JSON.parse(r.stdout);
  const row = result('native', 'memcpy', rmaSize, 'GB/s', j.samples.map((s) => rmaSize / s / 1e9));
  say(`memcpy ${rmaSize >> 20} MiB in this guest: ${row.median.toFixed(2)} GB/s`);
}

/**
 * The guest kernel's own copy rate: 64 MiB through a pipe in 1 MiB pieces (dd | dd: one
 * copy_from_user and one copy_to_user a byte, as a stream across the link has). Under TCG
 * the kernel's copies (rep movsb) run far below glibc's memcpy.
 */
function pipe() {
  const mib = 64;
  const gbs = [];
  for (let t = 0; t < 3; t++) {
    const r = spawnSync('bash', ['-c', `dd if=/dev/zero bs=1M count=${mib} 2>/dev/null | dd of=/dev/null bs=1M 2>&1`], { encoding: 'utf8' });
    const m = /copied, ([\d.]+) s/.exec(r.stdout || '');
    if (r.status !== 0 || !m) return say(`pipe reference: dd failed (${(r.stdout || '').trim() || r.error})`);
    gbs.push((mib << 20) / Number(m[1]) / 1e9);
  }
  const row = result('native', 'pipe', 1 << 20, 'GB/s', gbs);
  say(`pipe (dd | dd, 1 MiB blocks) in this guest: ${(row.median * 1000).toFixed(0)} MB/s`);
}

let phase = 'start';
function save(complete) {
  const meta = {
    date: new Date().toISOString(),
    complete,
    phase,
    kernel: os.release(),
    node: process.version,
    provider: require('..').platform().provider,
    cpus: os.cpus().length,
    trials,
    sizes,
    minBytes,
    batchTime,
    busyPollUs: process.env.SCIF_BUSY_POLL_US || 'default',
    ringKb: (() => {
      try {
        return Number(fs.readFileSync('/sys/module/scif/parameters/ring_kb', 'utf8'));
      } catch {
        return null;
      }
    })(),
    streamLinkCounters: linkStats,
    seconds: (Date.now() - started) / 1000,
  };
  const out = path.join(linkDir, 'bench-link.json');
  fs.writeFileSync(out, `${JSON.stringify({ meta, results, notes }, null, 1)}\n`);
  if (complete) say(`rows written to ${path.relative(process.cwd(), out)}`);
}

/** The host guest's link counters, asked over the control connection. */
let hostStats = null;
function hostCounters() {
  return hostStats();
}
/** Calls fn with each newline-terminated line that arrives on the stream. */
function onLines(stream, fn) {
  let buf = '';
  stream.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      fn(line);
    }
  });
}

function controlClient(c) {
  const waiting = [];
  onLines(c, (line) => {
    if (line.startsWith('STATS ') && waiting.length) waiting.shift()(JSON.parse(line.slice(6)));
  });
  hostStats = () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      c.write('STATS\n');
    });
}

/** Give up (with what was measured) when node 0 leaves the link: its sockets would hang, not fail. */
function watchHost() {
  const scif = require('..');
  setInterval(() => {
    let nodes = [0];
    try {
      nodes = scif.getNodeIds().nodes;
    } catch {}
    if (!nodes.includes(0)) {
      save(false);
      die(`node 0 (the host guest) left the link during the ${phase} phase`);
    }
  }, 2000).unref();
}

async function card() {
  ethUp();
  const ids = await waitForNode0();
  say(`SCIF: self ${ids.self}, nodes ${ids.nodes.join(',')}`);
  const { c: control, info } = await controlConnect();
  const addr = { scif: info.scif, tcp: { host: HOST_LL, port: info.tcp.port } };
  say(`control connection up; SCIF ${JSON.stringify(addr.scif)}, TCP [${HOST_LL}]:${addr.tcp.port}`);
  watchHost();
  controlClient(control);

  phase = 'memcpy';
  memcpy();
  pipe();
  save(false);

  const both = (fn) => Object.fromEntries(['scif', 'tcp'].map((t) => [t, () => fn(t)]));
  const report = (op, size, unit, sm, extra = '') =>
    say(`  ${Object.keys(sm).map((t) => show(result(t, op, size, unit, sm[t]))).join(', ')}${extra}`);

  if (ops.has('roundtrip')) {
    phase = 'roundtrip';
    say('8-byte round trip');
    const rt = {};
    for (const t of ['scif', 'tcp']) {
      const s = await open('P', t, addr[t]);
      rt[t] = { s, read: reader(s) };
    }
    const msg = Buffer.alloc(8, 7);
    const sm = await interleave(
      both(async (t) => {
        const { s, read } = rt[t];
        return (
          (await batch(async () => {
            s.write(msg);
            await read(8);
          }, 5)) * 1e6
        );
      }),
    );
    report('roundtrip', 8, 'us', sm);
    for (const { s } of Object.values(rt)) await close(s);
    save(false);
  }

  if (ops.has('connect')) {
    phase = 'connect';
    say('connect+accept');
    const sm = await interleave(
      both(
        async (t) =>
          (await batch(async () => {
            const s = await open(null, t, addr[t]);
            s.destroy();
          })) * 1e6,
      ),
    );
    report('connect', 0, 'us', sm);
    save(false);
  }

  // one 4 MiB transfer, then throughput at each write size, on one sink connection each
  if (ops.has('transfer') || ops.has('stream')) {
    const sinks = {};
    for (const t of ['scif', 'tcp']) sinks[t] = await sink(t, addr[t]);
    if (ops.has('transfer')) {
      phase = 'transfer';
      say(`one ${rmaSize >> 20} MiB transfer (stream, acknowledged)`);
      const big = Buffer.alloc(rmaSize, 1);
      report('transfer', rmaSize, 'us', await interleave(both(async (t) => (await batch(() => sinks[t].send(rmaSize, big), 1)) * 1e6)));
      save(false);
    }
    for (const size of ops.has('stream') ? sizes : []) {
      phase = `stream ${size}`;
      const chunk = Buffer.alloc(size, 2);
      const total = streamTotal(size, minBytes);
      say(`stream throughput, ${size}-byte writes, ${(total / 1048576).toFixed(total < 1048576 ? 2 : 0)} MiB a trial`);
      const c0 = linkCounters();
      const h0 = await hostCounters();
      const sm = await interleave(
        both(async (t) => {
          const t0 = process.hrtime.bigint();
          await sinks[t].send(total, chunk);
          return total / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e9;
        }),
      );
      const c1 = linkCounters();
      const h1 = await hostCounters();
      // SCIF moved total × (trials + 1 warm-up) bytes meanwhile (TCP's trials raise no SCIF doorbell)
      const mib = (total * (trials + 1)) / 1048576;
      const per = (a, b) => (b - a) / mib;
      linkStats[size] = {
        card: { irqsPerMiB: per(c0.irqs, c1.irqs), worksPerMiB: per(c0.works, c1.works) },
        host: { irqsPerMiB: per(h0.irqs, h1.irqs), worksPerMiB: per(h0.works, h1.works) },
      };
      const st = linkStats[size];
      report('stream', size, 'GB/s', sm, `; doorbell irqs per MiB: card (sender) ${st.card.irqsPerMiB.toFixed(1)}, host (receiver) ${st.host.irqsPerMiB.toFixed(1)}`);
      save(false);
    }
    for (const { socket } of Object.values(sinks)) await close(socket);
  }

  phase = 'rma';
  if (ops.has('rma')) await rma();
  save(true);
  control.write('DONE\n');
  await new Promise((r) => control.once('close', r).end());
}

/** RMA across the link, through bench/client.js's rmaSetup; EOPNOTSUPP → n/a. */
async function rma() {
  const windowSize = Math.max(rmaSize, ...sizes);
  say(`RMA: registering ${windowSize >> 20} MiB windows on a link connection`);
  // EOPNOTSUPP (95 on Linux, which Node names ENOTSUP): scif.ko refuses RMA on a link connection.
  const unsupported = (err) => err.errno === -os.constants.errno.EOPNOTSUPP || err.code === 'EOPNOTSUPP' || err.code === 'ENOTSUP';
  const na = (what, err) => {
    const text = unsupported(err)
      ? `n/a: SCIF RMA across the link is not available yet (${what} on a link connection: EOPNOTSUPP from scif.ko); no RMA rows`
      : `n/a: ${what} failed: ${err.code || ''} ${err.message}`;
    notes.push(text);
    say(text);
    if (!unsupported(err)) process.exitCode = 1;
  };
  let r;
  try {
    r = await rmaSetup(windowSize, 'scif', { node: 0, port: SCIF_PORT });
  } catch (err) {
    return na('socket.register (registerWindow)', err);
  }
  try {
    for (const dir of ['writeTo', 'readFrom']) {
      try {
        await r.copy(dir, rmaSize, 0);
      } catch (err) {
        na(dir, err);
        continue;
      }
      say(`one ${rmaSize >> 20} MiB RMA ${dir}`);
      const one = [];
      for (let t = 0; t < trials; t++) one.push((await batch(() => r.copy(dir, rmaSize, 0), 1)) * 1e6);
      say(`  ${show(result('scif', dir, rmaSize, 'us', one))}`);
      for (const size of sizes) {
        const total = streamTotal(size, minBytes);
        await r.copy(dir, size, 0);
        const gbs = [];
        for (let t = 0; t < trials; t++) {
          let done = 0;
          const t0 = process.hrtime.bigint();
          while (done < total) {
            await r.copy(dir, size, 0);
            done += size;
          }
          gbs.push(done / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e9);
        }
        say(`  RMA ${dir} ${size}-byte copies: ${show(result('scif', `rma-${dir}`, size, 'GB/s', gbs))}`);
      }
    }
  } finally {
    await r.done();
  }
}

if (!linkDir || !(node === 0 || node === 1)) die('run by test/guest/link.sh (SCIF_LINK_NODE and SCIF_LINK_DIR unset); use npm run bench:link');
(node === 0 ? host() : card()).catch((err) => die(err.stack || String(err)));
