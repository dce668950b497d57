#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// npm run bench: SCIF against TCP and Unix sockets, side by side in one run.
//
//   node bench/run.js [--quick] [--guest] [--json FILE] [--svg FILE] [--trials N]
//                     [--connections N] [--no-scale] [--ops roundtrip,connect,transfer,stream,onread,rma,scale]
//                     [--tcp-host H --tcp-port P] [--placements same,cross]
//                     [--transports scif,tcp,unix] [--sizes 1K,64K,4M] [--build-only]
//   node bench/run.js --link [--quick] [--json FILE] [--svg FILE] [--sizes ...]
//                     [--kernel 6.1|6.12] [--prebuilt] [--debug-mm] [--timeout S]
//                     [--ops roundtrip,connect,transfer,stream,rma]
//
// For each placement (both processes on core 0; or core 0 and core 1) it
// starts, for every transport, a peer process (bench/peer.js) and a measuring
// client (bench/client.js), all pinned with taskset and alive through the
// placement, and measures every figure trial by trial with the transports
// interleaved (the order rotated each trial), so that drift on the machine
// hits them all alike. A per-operation trial is the mean over a batch (0.3 s;
// 0.15 s with --quick); a throughput trial moves up to 64 MiB (16 MiB).
// Every figure is reported as its median with its spread (min–max across
// trials), "!" where the spread exceeds ±20% of the median. The floors are
// measured in the same run: the C AF_UNIX 8-byte round trip (bench/pingpong.c,
// interleaved with the transports' round trips) and memcpy on one and on two
// cores, process_vm_writev (bench/copybw.c), both compiled here with cc -O2.
// The scale rows: 1,000 connections streaming at once (--connections N).
// Prints the tables and the ratios against the targets, and writes every
// figure as JSON and the throughput chart as SVG.
//
// --link (npm run bench:link): two qemu guests joined by a SCIF link and a
// virtio-net link (test/guest/link.sh); bench/link.js in the card guest
// measures SCIF across the link against Node TCP over virtio-net, interleaved
// trial by trial, with the host guest as the peer (placement "link"). This
// process boots the guests, follows the card's progress and reports as above.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { chart, sizeLabel } = require('./svg');

const HERE = __dirname;
const ROOT = path.resolve(HERE, '..');
const OUT = path.join(HERE, 'out');

// --- Options -------------------------------------------------------------------

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) o[key] = true;
    else o[key] = argv[++i];
  }
  return o;
}

const args = parseArgs(process.argv.slice(2));
if (args.help || args.h) {
  console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 33).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const quick = !!args.quick;
const link = !!args.link;
const guest = !link && (!!args.guest || !!process.env.SCIF_GUEST);
const KiB = 1024;
const MiB = 1024 * 1024;
const RMA_SIZE = 4 * MiB;
let sizes;
let clientOpts; // --link: passed to bench/link.js in the card guest
// Local runs: trials per figure, the batch (seconds) each per-operation trial
// averages over, bytes per throughput trial; and the scale rows' settings.
// A scale trial streams 1 MiB on each connection (16 writes of 64 KiB): with
// 256 KiB (4 writes) a trial measured mostly its own start and tail (SCIF
// over 1,000 connections: 1.3-2.6 GB/s at 256 KiB each, 2.3-3.1 at 1 MiB;
// over 10 connections 0.2-1.7 GB/s), not connections streaming at once.
let local;
if (link) {
  // Under TCG, TCP over virtio-net moves ~30 MB/s: a trial is at most 8 (quick) or 32 MiB
  // (at least 4 writes: 16 MiB of 4 MiB writes, 64 MiB of 16 MiB ones).
  sizes = quick ? [4 * KiB, 64 * KiB, 1 * MiB, 4 * MiB] : [1, 4, 16, 64, 256, 1024, 4096, 16384].map((k) => k * KiB);
  clientOpts = quick ? { 'batch-time': '0.3', trials: '5', 'min-bytes': String(8 * MiB) } : { 'batch-time': '0.5', trials: '9', 'min-bytes': String(32 * MiB) };
} else if (guest) {
  sizes = [4 * KiB, 64 * KiB, 1 * MiB, 4 * MiB];
  local = { trials: 3, batch: 0.5, minBytes: 8 * MiB, scale: { connections: 100, size: 64 * KiB, total: 256 * KiB, trials: 1 } };
} else if (quick) {
  sizes = [1 * KiB, 16 * KiB, 256 * KiB, 4 * MiB];
  local = { trials: 5, batch: 0.15, minBytes: 16 * MiB, scale: { connections: 1000, size: 64 * KiB, total: 1 * MiB, trials: 3 } };
} else {
  sizes = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536].map((k) => k * KiB);
  local = { trials: 9, batch: 0.3, minBytes: 64 * MiB, scale: { connections: 1000, size: 64 * KiB, total: 1 * MiB, trials: 5 } };
}
if (args.trials !== undefined && local) local.trials = Math.max(1, Number(args.trials) | 0);
if (args.connections !== undefined && local) local.scale.connections = Math.max(1, Number(args.connections) | 0);
if (args.sizes) sizes = String(args.sizes).split(',').map((s) => parseSize(s));
const transports = String(args.transports || 'scif,tcp,unix').split(',');
// Local runs: the figures to measure (--ops), all by default; --no-scale leaves the scale rows out.
const ops = new Set(String(args.ops || 'roundtrip,connect,transfer,stream,onread,rma,scale').split(','));
if (args['no-scale']) ops.delete('scale');
const tcpRemote = args['tcp-host'] !== undefined;
if (tcpRemote && args['tcp-port'] === undefined) fail('--tcp-host needs --tcp-port');
const stem = link ? '-link' : guest ? '-guest' : '';
const jsonFile = typeof args.json === 'string' ? args.json : path.join(OUT, `results${stem}.json`);
const svgFile = typeof args.svg === 'string' ? args.svg : path.join(OUT, `chart${stem}.svg`);

function parseSize(s) {
  const m = /^(\d+)([kKmM]?)$/.exec(s.trim());
  if (!m) fail(`bad size ${s}`);
  return Number(m[1]) * (m[2] ? (/k/i.test(m[2]) ? KiB : MiB) : 1);
}

function fail(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(1);
}

// --- Prerequisites -------------------------------------------------------------

function checkTaskset() {
  const r = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'pipe' });
  if (r.error || r.status !== 0) {
    fail(
      'taskset (util-linux) is needed to place the processes on cores, and it ' +
        `${r.error ? 'was not found' : `failed: ${String(r.stderr).trim()}`}. Install util-linux (apt-get install util-linux).`,
    );
  }
}

function cpuCount() {
  // The CPUs this process may run on (taskset -c 1 needs CPU 1 in the mask).
  const r = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  const list = /:\s*([\d,\-]+)\s*$/.exec(r.stdout || '');
  if (!list) return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  let n = 0;
  for (const part of list[1].split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a + 1;
  }
  return n;
}

/**
 * The CPU time of each CPU so far (/proc/stat, in clock ticks): { cpu: { steal, total } }
 * for "all" and each "cpuN". Steal is the time this VM's CPU was ready to run but the
 * hypervisor ran something else: a figure measured while it was high measured the host.
 * Empty where /proc/stat is not there.
 */
function cpuTimes() {
  const out = {};
  let text = '';
  try {
    text = fs.readFileSync('/proc/stat', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    // user nice system idle iowait irq softirq steal (guest time is counted in user)
    const f = m[2].trim().split(/\s+/).slice(0, 8).map(Number);
    out[m[1] === '' ? 'all' : `cpu${m[1]}`] = { steal: f[7] || 0, total: f.reduce((a, b) => a + b, 0) };
  }
  return out;
}

/** Steal between two cpuTimes() readings, in percent of the CPU time that passed: { all, cpu0, ... }. */
function stealBetween(a, b) {
  const out = {};
  for (const k of Object.keys(b)) {
    if (!a[k]) continue;
    const total = b[k].total - a[k].total;
    out[k] = total > 0 ? (100 * (b[k].steal - a[k].steal)) / total : 0;
  }
  return out;
}

const pct = (x) => `${x.toFixed(x < 10 ? 1 : 0)}%`;
/** "12% (cpu0 10%, cpu1 14%)": the whole machine's steal and each CPU's. */
function stealLabel(s) {
  const cpus = Object.keys(s).filter((k) => k !== 'all').sort();
  return s.all === undefined ? 'not measured (no /proc/stat)' : `${pct(s.all)}${cpus.length ? ` (${cpus.map((k) => `${k} ${pct(s[k])}`).join(', ')})` : ''}`;
}

/** Compiles bench/copybw.c and bench/pingpong.c (cc -O2) into bench/out when stale. */
function buildHelpers() {
  fs.mkdirSync(OUT, { recursive: true });
  const bins = {};
  for (const [name, why] of [
    ['copybw', 'the memcpy and process_vm_writev ceilings'],
    ['pingpong', 'the C AF_UNIX round-trip floor'],
  ]) {
    const src = path.join(HERE, `${name}.c`);
    const bin = path.join(OUT, name);
    const stale = !fs.existsSync(bin) || fs.statSync(bin).mtimeMs < fs.statSync(src).mtimeMs;
    if (stale) {
      const r = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', bin, src], { stdio: 'inherit' });
      if (r.error || r.status !== 0) fail(`cc -O2 ${path.relative(ROOT, src)} failed${r.error ? `: ${r.error.message}` : ''} (a C compiler is needed for ${why})`);
    }
    bins[name] = bin;
  }
  return bins;
}

// --- Running the processes -------------------------------------------------------

const results = [];
const started = Date.now();
function log(text) {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${t}s] ${text}\n`);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A result row: the median, the spread (min/max across trials) and every sample. */
function row(transport, op, size, placement, unit, samples) {
  return { transport, op, size, placement, median: median(samples), min: Math.min(...samples), max: Math.max(...samples), unit, samples };
}

/** Whether a figure's spread exceeds ±20% of its median (marked in the table). */
function noisy(r) {
  const lo = r.min ?? Math.min(...r.samples);
  const hi = r.max ?? Math.max(...r.samples);
  return lo < 0.8 * r.median || hi > 1.2 * r.median;
}

function nativeFigure(bin, op, size, trials, placement = 'core 0') {
  // memcpy2 places its own two threads (cores 0 and 1).
  const cmd = op === 'memcpy2' ? [bin, op, String(size), String(trials)] : ['taskset', '-c', '0', bin, op, String(size), String(trials)];
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) fail(`${path.basename(bin)} ${op} ${size}: ${r.stderr || r.error}`);
  const j = JSON.parse(r.stdout);
  const fig = row('native', j.op, size, placement, 'GB/s', j.samples.map((s) => size / s / 1e9));
  results.push(fig);
  log(`native ${j.op} ${sizeLabel(size)} (${placement}): ${fig.median.toFixed(2)} GB/s`);
}

/** One trial of the C AF_UNIX round trip (bench/pingpong.c): µs. */
function pingpongTrial(bin, p, seconds) {
  const r = spawnSync(bin, [String(p.client), String(p.peer), String(seconds)], { encoding: 'utf8' });
  if (r.status !== 0) fail(`${path.basename(bin)}: ${r.stderr || r.error}`);
  return JSON.parse(r.stdout).us;
}

function startPeer(transport, core) {
  return new Promise((resolve, reject) => {
    const peerArgs = ['-c', String(core), process.execPath, path.join(HERE, 'peer.js'), '--transport', transport, '--exit-on-stdin-close'];
    const child = spawn('taskset', peerArgs, {
      env: { ...process.env, SCIF_NODE: '1' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const rl = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${transport} peer did not start`)), 30000);
    child.once('exit', (code) => reject(new Error(`${transport} peer exited (${code})`)));
    child.once('error', reject);
    rl.on('line', (line) => {
      if (line.startsWith('READY ')) {
        clearTimeout(timer);
        resolve({ child, address: JSON.parse(line.slice(6)) });
      }
    });
  });
}

function stopChild(proc) {
  if (!proc) return Promise.resolve();
  return new Promise((resolve) => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return resolve();
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), 3000);
    proc.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (proc.quit) proc.quit();
    else proc.child.stdin.end();
  });
}

/**
 * A measuring client (bench/client.js), pinned to |core|, connected to the
 * peer at |address|; trial(cmd) resolves to its figure for one trial.
 */
function startClient(transport, address, core) {
  const cargs = ['-c', String(core), process.execPath, '--expose-gc', path.join(HERE, 'client.js'), '--transport', transport,
    '--address', JSON.stringify(address)];
  const child = spawn('taskset', cargs, { env: { ...process.env, SCIF_NODE: '0' }, stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = new Map();
  let nextId = 1;
  let dead = null;
  const rl = readline.createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      process.stderr.write(`${line}\n`);
      return;
    }
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.type === 'trial') w.resolve(msg.value);
    else w.reject(new Error(msg.message));
  });
  child.once('exit', (code, signal) => {
    dead = new Error(`${transport} client exited (${signal || code})`);
    for (const w of waiting.values()) w.reject(dead);
    waiting.clear();
  });
  return {
    child,
    trial(cmd) {
      if (dead) return Promise.reject(dead);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.stdin.write(`${JSON.stringify({ ...cmd, id })}\n`);
      });
    },
    quit() {
      if (!dead) child.stdin.write('{"op":"quit"}\n');
    },
  };
}

/**
 * Measures one figure for every member of |members| (a name and a trial
 * function each), interleaved: after one warm-up each, trial t runs them
 * all in an order rotated by t, so that drift on the machine hits all of
 * them alike. Resolves to { name: samples }.
 */
async function interleaved(members, trials) {
  const samples = {};
  for (const m of members) {
    await m.trial(); // warm-up
    samples[m.name] = [];
  }
  for (let t = 0; t < trials; t++) {
    for (let i = 0; i < members.length; i++) {
      const m = members[(i + t) % members.length];
      samples[m.name].push(await m.trial());
    }
  }
  return samples;
}

/** All of a placement's figures: the peers and clients of every transport live through the whole placement. */
async function measurePlacement(p, bins, remoteTcp) {
  const { trials, batch, minBytes } = local;
  const clients = {};
  const peers = [];
  const byName = {}; // member name -> { transport, placement }
  try {
    for (const t of transports) {
      if (t === 'tcp' && tcpRemote) continue;
      const peer = await startPeer(t, p.peer);
      peers.push(peer);
      clients[t] = startClient(t, peer.address, p.client);
      peers.push(clients[t]);
      byName[t] = { transport: t, placement: p.name };
    }
    if (remoteTcp) {
      clients.tcp = startClient('tcp', remoteTcp, 0);
      peers.push(clients.tcp);
      byName.tcp = { transport: 'tcp', placement: 'remote' };
    }
    const names = Object.keys(clients);
    // Warm every client and peer up, one after the other (a fresh Node process on this
    // machine takes ~0.6 s of round trips before its JIT settles: the first trials would
    // measure start-up, not the transport).
    for (const n of names) {
      if (ops.has('roundtrip')) await clients[n].trial({ op: 'roundtrip', batch: 1 });
      if (ops.has('transfer') || ops.has('stream')) await clients[n].trial({ op: 'transfer', size: RMA_SIZE, batch: 0.5 });
      if (ops.has('connect')) await clients[n].trial({ op: 'connect', batch: 0.3 });
    }
    const members = (cmd, only) =>
      names.filter((n) => !only || only.includes(n)).map((n) => ({ name: n, trial: () => clients[n].trial(cmd) }));
    const record = (op, size, unit, samples) => {
      for (const [n, s] of Object.entries(samples)) {
        const who = byName[n] || { transport: 'native', placement: p.name };
        const r = row(who.transport, op, size, who.placement, unit, s);
        results.push(r);
      }
      log(`${p.short}: ${op}${size ? ` ${sizeLabel(size)}` : ''}: ${Object.entries(samples).map(([n, s]) => `${n} ${fmt(row('', op, size, '', unit, s))}`).join(', ')}`);
    };
    // Per-operation figures; the round trip with the C AF_UNIX floor interleaved as one more member.
    if (ops.has('roundtrip')) {
      const rt = members({ op: 'roundtrip', batch });
      rt.push({ name: 'c-unix', trial: async () => pingpongTrial(bins.pingpong, p, batch) });
      record('roundtrip', 8, 'us', await interleaved(rt, trials));
    }
    if (ops.has('connect')) record('connect', 0, 'us', await interleaved(members({ op: 'connect', batch }), trials));
    if (ops.has('transfer')) record('transfer', RMA_SIZE, 'us', await interleaved(members({ op: 'transfer', size: RMA_SIZE, batch }), trials));
    for (const size of ops.has('stream') ? sizes : []) {
      const total = Math.max(size * 4, Math.min(minBytes, size * 4096));
      record('stream', size, 'GB/s', await interleaved(members({ op: 'stream', size, total }), trials));
    }
    // The other way, read with connect({ onread }) into one reused buffer: no page faults per read.
    for (const size of ops.has('onread') ? sizes : []) {
      const total = Math.max(size * 4, Math.min(minBytes, size * 4096));
      record('stream-onread', size, 'GB/s', await interleaved(members({ op: 'stream-onread', size, total }), trials));
    }
    if (clients.scif && ops.has('rma')) {
      for (const dir of ['writeTo', 'readFrom']) {
        record(dir, RMA_SIZE, 'us', await interleaved(members({ op: dir, size: RMA_SIZE, batch }, ['scif']), trials));
      }
      for (const size of sizes) {
        const total = Math.max(size * 4, Math.min(minBytes, size * 4096));
        // writeTo and readFrom interleaved with each other.
        const s = await interleaved(
          ['writeTo', 'readFrom'].map((dir) => ({ name: dir, trial: () => clients.scif.trial({ op: `rma-${dir}`, size, total }) })),
          trials,
        );
        for (const dir of ['writeTo', 'readFrom']) results.push(row('scif', `rma-${dir}`, size, p.name, 'GB/s', s[dir]));
        log(`${p.short}: RMA ${sizeLabel(size)}: writeTo ${s.writeTo.length ? median(s.writeTo).toFixed(2) : '?'}, readFrom ${median(s.readFrom).toFixed(2)} GB/s`);
      }
    }
    // Scale: many connections streaming at once (in writes of a size the stream rows have, to compare with one connection).
    const sc = local.scale && { ...local.scale, size: sizes.reduce((a, b) => (Math.abs(Math.log2(b / local.scale.size)) < Math.abs(Math.log2(a / local.scale.size)) ? b : a)) };
    if (sc && ops.has('scale')) {
      const runs = {};
      for (const n of names) runs[n] = [];
      const ms = names.map((n) => ({
        name: n,
        trial: async () => {
          const v = await clients[n].trial({ op: 'scale', connections: sc.connections, size: sc.size, total: sc.total });
          runs[n].push(v);
          return v.aggregate;
        },
      }));
      await interleaved(ms, sc.trials);
      for (const n of names) {
        const vs = runs[n].slice(1); // the first was the warm-up
        const who = byName[n];
        const extra = { connections: sc.connections, perConnection: sc.total };
        results.push({ ...row(who.transport, 'scale-aggregate', sc.size, who.placement, 'GB/s', vs.map((v) => v.aggregate)), ...extra });
        results.push({ ...row(who.transport, 'scale-fairness', sc.size, who.placement, 'ratio', vs.map((v) => v.slowest / v.fastest)), ...extra });
        results.push({ ...row(who.transport, 'scale-idle-rss', 0, who.placement, 'KiB', vs.map((v) => v.perIdleConnection / 1024)), ...extra });
      }
      log(`${p.short}: ${sc.connections} connections: ${names.map((n) => `${n} ${median(runs[n].slice(1).map((v) => v.aggregate)).toFixed(2)} GB/s`).join(', ')}`);
    }
  } finally {
    for (const proc of peers.reverse()) await stopChild(proc);
  }
}

// --- Report ------------------------------------------------------------------------

function find(transport, op, size, placement) {
  return results.find((r) => r.transport === transport && r.op === op && (size === undefined || r.size === size) && (placement === undefined || r.placement === placement));
}

// Throughput in the table: GB/s, or MB/s for --link (emulated guests move tens of MB/s).
const MBS = link;
function num(v, unit) {
  if (unit === 'us') return v < 100 ? v.toFixed(1) : v.toFixed(0);
  if (unit === 'GB/s' && MBS) return (v * 1000).toFixed(v < 0.1 ? 1 : 0);
  if (unit === 'KiB') return v.toFixed(1);
  return v.toFixed(v < 10 ? 2 : 1);
}
function unitLabel(unit) {
  if (unit === 'us') return ' µs';
  if (unit === 'GB/s') return MBS ? ' MB/s' : ' GB/s';
  if (unit === 'KiB') return ' KiB';
  return '';
}
/** "median unit", or with spread: "median [min–max]" and "!" when it exceeds ±20% of the median. */
function fmt(r, { spread = false, unit = true } = {}) {
  if (!r) return '—';
  const u = unit ? unitLabel(r.unit) : '';
  if (!spread || !r.samples || r.samples.length < 2) return `${num(r.median, r.unit)}${u}`;
  const lo = r.min ?? Math.min(...r.samples);
  const hi = r.max ?? Math.max(...r.samples);
  return `${num(r.median, r.unit)}${u} [${num(lo, r.unit)}–${num(hi, r.unit)}]${noisy(r) ? '!' : ' '}`;
}

function printTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

function table(placements, columns) {
  const opColumns = columns.filter((c) => c.op === 'stream');
  const header = ['figure', ...opColumns.flatMap((c) => placements.map((p) => `${c.label} ${p.short}`))];
  const perOp = [
    ['8-byte round trip', 'roundtrip', 8],
    ['connect+accept', 'connect', 0],
    [`one ${sizeLabel(RMA_SIZE)} transfer (stream)`, 'transfer', RMA_SIZE],
    [`one ${sizeLabel(RMA_SIZE)} RMA writeTo`, 'writeTo', RMA_SIZE],
    [`one ${sizeLabel(RMA_SIZE)} RMA readFrom`, 'readFrom', RMA_SIZE],
  ];
  const rows = perOp.map(([label, op, size]) => [label, ...opColumns.flatMap((c) => placements.map((p) => fmt(find(c.transport, op, size, p.name), { spread: true })))]);
  printTable(header, rows);
  const unit = MBS ? 'MB/s' : 'GB/s';
  for (const p of placements) {
    console.log('');
    const h = [`${unit}, ${p.short}: write/copy size`, ...columns.map((c) => c.label)];
    const rs = sizes.map((size) => [sizeLabel(size), ...columns.map((c) => fmt(find(c.transport, c.op, size, p.name), { spread: true, unit: false }))]);
    if (rs.some((r) => r.slice(1).some((c) => c !== '—'))) printTable(h, rs);
  }
}

/** The scale rows: many connections streaming at once. */
function scaleTable(placements) {
  const rows = [];
  for (const t of ['scif', 'tcp', 'unix']) {
    for (const p of placements) {
      const a = find(t, 'scale-aggregate', undefined, p.name);
      if (!a) continue;
      const f = find(t, 'scale-fairness', a.size, p.name);
      const m = find(t, 'scale-idle-rss', 0, p.name);
      const one = find(t, 'stream', a.size, p.name);
      rows.push([`${t} ${p.short}`, fmt(a, { spread: true }), one ? `${(a.median / one.median).toFixed(2)}×` : '—', fmt(f, { spread: true }), fmt(m, { spread: true })]);
    }
  }
  if (rows.length === 0) return;
  const a = results.find((r) => r.op === 'scale-aggregate');
  console.log('');
  console.log(`${a.connections} connections at once, each sending ${sizeLabel(a.perConnection)} in ${sizeLabel(a.size)} writes (client process RSS for memory):`);
  printTable(['transport', 'aggregate', '/ one connection', 'slowest/fastest', 'RSS per idle connection'], rows);
}

// A placement whose steal reached this share of CPU time is flagged beside each of its ratios.
const STEAL_FLAG = 10;

/** The ratios against the targets, per placement; |steal| (per placement name, see stealBetween) flags a disturbed host. */
function ratios(placements, steal = {}) {
  const out = [];
  const pvw = find('native', 'process_vm_writev', RMA_SIZE);
  const memcpy = find('native', 'memcpy', RMA_SIZE);
  for (const p of placements) {
    const tcpP = tcpRemote ? 'remote' : p.name;
    const tcpStream = find('tcp', 'stream', RMA_SIZE, tcpP);
    const scifStream = find('scif', 'stream', RMA_SIZE, p.name);
    const w = find('scif', 'writeTo', RMA_SIZE, p.name);
    const wGBs = w ? RMA_SIZE / (w.median * 1e-6) / 1e9 : undefined;
    const rtS = find('scif', 'roundtrip', 8, p.name);
    const rtT = find('tcp', 'roundtrip', 8, tcpP);
    const rtC = find('native', 'roundtrip', 8, p.name);
    const scale = find('scif', 'scale-aggregate', undefined, p.name);
    const one = scale && find('scif', 'stream', scale.size, p.name);
    const gb = (v) => v.toFixed(2);
    const us = (v) => v.toFixed(1);
    // A throughput target against another transport (|base|) that would need more than this
    // run's two-core memcpy of 4 MiB (every copy of the machine, both cores at once) cannot pass
    // here: a miss says so, with the figure it would need.
    const ceiling = find('native', 'memcpy-2core', RMA_SIZE);
    const stolen = steal[p.name]?.all;
    const add = (what, value, target, ge, detail, inputs, base) => {
      if (value === undefined || !Number.isFinite(value)) return out.push({ placement: p.name, what, target, value: null, pass: false, detail: 'not measured', ge, steal: stolen });
      const pass = ge ? value >= target : value <= target;
      const need = base && ceiling && !pass ? target * base.median : 0;
      const beyond = need > ceiling?.median ? `needs ${gb(need)} GB/s, above this run's two-core memcpy 4 MiB (${gb(ceiling.median)} GB/s)` : undefined;
      out.push({ placement: p.name, what, target, value, pass, detail, ge, noisy: inputs.some((r) => r && noisy(r)), beyond, steal: stolen });
    };
    if (wGBs && tcpStream) add('RMA writeTo 4 MiB / TCP stream 4 MiB', wGBs / tcpStream.median, 8, true, `${gb(wGBs)} / ${gb(tcpStream.median)} GB/s`, [w, tcpStream], tcpStream);
    if (wGBs && pvw) add('RMA writeTo 4 MiB / raw process_vm_writev 4 MiB', wGBs / pvw.median, 0.85, true, `${gb(wGBs)} / ${gb(pvw.median)} GB/s`, [w, pvw]);
    if (scifStream && tcpStream) add('SCIF stream 4 MiB / TCP stream 4 MiB', scifStream.median / tcpStream.median, 3, true, `${gb(scifStream.median)} / ${gb(tcpStream.median)} GB/s`, [scifStream, tcpStream], tcpStream);
    if (scifStream && memcpy) add('SCIF stream 4 MiB / one-core memcpy 4 MiB', scifStream.median / memcpy.median, 0.3, true, `${gb(scifStream.median)} / ${gb(memcpy.median)} GB/s`, [scifStream, memcpy]);
    const oS = find('scif', 'stream-onread', RMA_SIZE, p.name);
    const oT = find('tcp', 'stream-onread', RMA_SIZE, tcpP);
    if (oS && oT) add('SCIF onread stream 4 MiB / TCP onread 4 MiB', oS.median / oT.median, 3, true, `${gb(oS.median)} / ${gb(oT.median)} GB/s`, [oS, oT], oT);
    if (oS && memcpy) add('SCIF onread stream 4 MiB / one-core memcpy', oS.median / memcpy.median, 0.3, true, `${gb(oS.median)} / ${gb(memcpy.median)} GB/s`, [oS, memcpy]);
    const rtTarget = p.peer === p.client ? 0.8 : 0.3;
    if (rtS && rtT) add('SCIF 8-byte round trip / TCP', rtS.median / rtT.median, rtTarget, false, `${us(rtS.median)} / ${us(rtT.median)} µs`, [rtS, rtT]);
    if (rtS && rtC) add('SCIF 8-byte round trip / C AF_UNIX round trip', rtS.median / rtC.median, 1.5, false, `${us(rtS.median)} / ${us(rtC.median)} µs`, [rtS, rtC]);
    if (scale && one) add(`${scale.connections} connections aggregate / one connection`, scale.median / one.median, 0.9, true, `${gb(scale.median)} / ${gb(one.median)} GB/s at ${sizeLabel(scale.size)} writes`, [scale, one]);
  }
  return out;
}

function printRatios(rs) {
  for (const r of rs) {
    const v = r.value === null ? 'n/a' : `${r.value.toFixed(2)}×`;
    const status = r.value === null ? 'N/A ' : r.pass ? 'PASS' : 'MISS';
    console.log(`  ${status}  ${r.placement.padEnd(10)} ${r.what.padEnd(48)} ${v.padStart(7)}  (target ${r.ge ? '≥' : '≤'} ${r.target}×; ${r.detail})${r.noisy ? '  ! noisy input' : ''}${r.steal >= STEAL_FLAG ? `  ! steal ${pct(r.steal)}` : ''}`);
    if (r.beyond) console.log(`        ${''.padEnd(10)} beyond this machine: ${r.beyond}`);
  }
}

// --- Between two guests (--link) --------------------------------------------------------

const LINK_PLACEMENT = { name: 'link', short: 'link', label: 'two guests: SCIF link / TCP over virtio-net' };
const linkNotes = [];
let linkMeta = {};

/** The issue's targets across the link; a figure that could not be measured is n/a (and not a pass). */
function linkRatios() {
  const out = [];
  const p = 'link';
  const tcpStream = find('tcp', 'stream', RMA_SIZE, p);
  const scifStream = find('scif', 'stream', RMA_SIZE, p);
  const w = find('scif', 'writeTo', RMA_SIZE, p);
  const wGBs = w ? RMA_SIZE / (w.median * 1e-6) / 1e9 : undefined;
  const memcpy = find('native', 'memcpy', RMA_SIZE, p);
  const rtS = find('scif', 'roundtrip', 8, p);
  const rtT = find('tcp', 'roundtrip', 8, p);
  const rmaNote = linkNotes.find((n) => /RMA|registerWindow|writeTo/.test(n));
  const add = (what, a, b, target, ge, unit) => {
    if (a === undefined || b === undefined) {
      const why = a === undefined && /RMA/.test(what) && rmaNote ? rmaNote : 'not measured';
      return out.push({ placement: p, what, target, value: null, pass: false, detail: why, ge });
    }
    const value = a / b;
    const f = (v) => (unit === 'µs' ? v.toFixed(0) : v < 0.1 ? v.toFixed(4) : v.toFixed(3));
    out.push({ placement: p, what, target, value, pass: ge ? value >= target : value <= target, detail: `${f(a)} / ${f(b)} ${unit}`, ge });
  };
  add('SCIF stream 4 MiB / TCP stream 4 MiB', scifStream && scifStream.median, tcpStream && tcpStream.median, 10, true, 'GB/s');
  add('SCIF 8-byte round trip / TCP', rtS && rtS.median, rtT && rtT.median, 0.5, false, 'µs');
  add('RMA writeTo 4 MiB / TCP stream 4 MiB', wGBs, tcpStream && tcpStream.median, 20, true, 'GB/s');
  add("RMA writeTo 4 MiB / the guest's memcpy 4 MiB", wGBs, memcpy && memcpy.median, 0.5, true, 'GB/s');
  return out;
}

/** Boots the two guests (test/guest/link.sh) with bench/link.js in both; collects the card's rows. */
function runLink() {
  for (const f of ['dist/index.js', 'build/Release/scif.node']) {
    if (!fs.existsSync(path.join(ROOT, f))) fail(`${f} missing: the guests run this build (npm run build first)`);
  }
  const guestArgs = ['--sizes', sizes.join(','), '--rma-size', String(RMA_SIZE)];
  if (args.ops) guestArgs.push('--ops', String(args.ops));
  for (const [k, v] of Object.entries(clientOpts)) guestArgs.push(`--${k}`, v);
  const timeout = String(args.timeout || (quick ? 900 : 1500));
  const linkArgs = ['test/guest/link.sh', '--kernel', String(args.kernel || '6.12'), '--timeout', timeout,
    '--env', 'SCIF_PROVIDER=kernel', '--env', 'SCIF_NODE=0'];
  if (args.prebuilt) linkArgs.push('--prebuilt');
  if (args['debug-mm']) linkArgs.push('--debug-mm');   // KFENCE + slub_debug in both guests
  linkArgs.push('--', 'node', 'bench/link.js', ...guestArgs);
  log(`link run: bash ${linkArgs.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', linkArgs, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let linkDir = null;
    const seen = { 'host.log': 0, 'card.log': 0 };
    const partial = { 'host.log': '', 'card.log': '' };
    // Follow both guests' consoles: print the bench's own lines as they come.
    const follow = () => {
      if (!linkDir) return;
      for (const name of Object.keys(seen)) {
        let buf;
        try {
          const fd = fs.openSync(path.join(linkDir, name), 'r');
          const size = fs.fstatSync(fd).size;
          buf = Buffer.alloc(Math.max(0, size - seen[name]));
          fs.readSync(fd, buf, 0, buf.length, seen[name]);
          fs.closeSync(fd);
          seen[name] = size;
        } catch {
          continue;
        }
        const lines = (partial[name] + buf.toString('utf8')).split('\n');
        partial[name] = lines.pop();
        for (const l of lines) {
          const m = /bench-link: (.*)$/.exec(l.replace(/\r$/, ''));
          if (m) log(`${name === 'host.log' ? 'host' : 'card'}: ${m[1]}`);
          else if (/guest: FAIL|@@GUEST-ERROR/.test(l)) log(`${name === 'host.log' ? 'host' : 'card'}: ${l.trim()}`);
        }
      }
    };
    const timer = setInterval(follow, 500);
    const harness = [];
    const onLine = (line) => {
      harness.push(line);
      const m = /^guest: link (\S+): /.exec(line);
      if (m) linkDir = path.join(ROOT, 'build/guest/link', m[1]);
      if (/^(guest: |link: )/.test(line) && !/^link: fabric log/.test(line)) log(line);
    };
    readline.createInterface({ input: child.stdout }).on('line', onLine);
    readline.createInterface({ input: child.stderr }).on('line', onLine);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(timer);
      follow();
      if (!linkDir) return reject(new Error(`link.sh exited (${code}) before starting the guests:\n${harness.join('\n')}`));
      const file = path.join(linkDir, 'bench-link.json');
      if (!fs.existsSync(file)) {
        for (const name of ['host.log', 'card.log']) {
          let text = '';
          try {
            text = fs.readFileSync(path.join(linkDir, name), 'utf8');
          } catch {}
          const tail = text.split('\n').filter((l) => !/^\[ *\d+\.\d+\]/.test(l)).slice(-25);
          process.stderr.write(`--- ${path.relative(ROOT, linkDir)}/${name} (last lines, kernel messages left out)\n${tail.join('\n')}\n`);
        }
        return reject(new Error(`the card wrote no results (link.sh exit ${code}); logs: ${path.relative(ROOT, linkDir)}/card.log, host.log`));
      }
      const got = JSON.parse(fs.readFileSync(file, 'utf8'));
      results.push(...got.results);
      linkNotes.push(...got.notes);
      linkMeta = { ...got.meta, linkDir: path.relative(ROOT, linkDir), linkExit: code };
      resolve(code);
    });
  });
}

async function mainLink() {
  buildHelpers(); // bench/out/copybw: the guests run it for their memcpy figure
  log(`link run (${quick ? 'quick' : 'full'}): sizes ${sizes.map(sizeLabel).join(' ')}; ${clientOpts.trials} trials, SCIF and TCP interleaved`);
  const code = await runLink();
  const placements = [LINK_PLACEMENT];
  const columns = [
    { label: 'SCIF', transport: 'scif', op: 'stream' },
    { label: 'RMA wr', transport: 'scif', op: 'rma-writeTo' },
    { label: 'RMA rd', transport: 'scif', op: 'rma-readFrom' },
    { label: 'TCP', transport: 'tcp', op: 'stream' },
  ];
  console.log('');
  if (!linkMeta.complete) console.log(`INCOMPLETE: the card stopped during its ${linkMeta.phase} phase; the figures it had measured:`);
  console.log(`Medians. ${LINK_PLACEMENT.short} = ${LINK_PLACEMENT.label} (card guest → host guest; guest kernel ${linkMeta.kernel}, TCG).`);
  console.log('');
  table(placements, columns);
  console.log('');
  const nat = results.filter((r) => r.transport === 'native');
  console.log(`Reference (the card guest, one process): ${nat.map((r) => `${r.op} ${sizeLabel(r.size)} ${r.median.toFixed(2)} GB/s`).join(', ')}`);
  for (const n of linkNotes) console.log(`SCIF RMA across the link: ${n}`);
  console.log('');
  console.log('Ratios against the targets (same run):');
  const rs = linkRatios();
  for (const r of rs) {
    const v = r.value === null ? 'n/a' : `${r.value.toFixed(2)}×`;
    const status = r.value === null ? 'N/A ' : r.pass ? 'PASS' : 'MISS';
    console.log(`  ${status}  ${r.placement.padEnd(5)} ${r.what.padEnd(48)} ${v.padStart(7)}  (target ${r.ge ? '≥' : '≤'} ${r.target}×; ${r.detail})`);
  }
  const meta = {
    date: new Date().toISOString(),
    mode: `link${quick ? ' quick' : ''}`,
    provider: linkMeta.provider,
    kernel: linkMeta.kernel,
    cpus: linkMeta.cpus,
    node: linkMeta.node,
    placements: placements.map(({ name, label }) => ({ name, label })),
    link: linkMeta,
    notes: linkNotes,
  };
  writeOutputs(meta, rs, {
    title: 'Two guests: SCIF link against TCP over virtio-net',
    note: `${meta.mode} run ${meta.date.slice(0, 10)}, Linux ${String(meta.kernel).replace(/-amd64$/, '')} guests (TCG), ${meta.node}; medians`,
    placements,
    logY: true,
    footer: linkNotes.some((n) => /RMA/.test(n)) ? 'SCIF RMA across the link: n/a (EOPNOTSUPP from scif.ko: not implemented yet)' : undefined,
  });
  if (code !== 0) fail(`link.sh exited ${code}: a guest or the harness reported a problem (logs in ${linkMeta.linkDir})`);
}

function writeOutputs(meta, rs, chartOptions) {
  fs.mkdirSync(path.dirname(path.resolve(jsonFile)), { recursive: true });
  fs.writeFileSync(jsonFile, `${JSON.stringify({ meta, results, ratios: rs }, null, 1)}\n`);
  fs.mkdirSync(path.dirname(path.resolve(svgFile)), { recursive: true });
  fs.writeFileSync(svgFile, chart(results, chartOptions));
  console.log('');
  console.log(`JSON: ${path.relative(process.cwd(), jsonFile)}   chart: ${path.relative(process.cwd(), svgFile)}   (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

// --- Main ----------------------------------------------------------------------------

async function main() {
  if (args['build-only']) {
    buildHelpers();
    return;
  }
  if (link) return mainLink();
  checkTaskset();
  const ncpu = cpuCount();
  let placements = [
    { name: 'same-core', short: 'same', label: 'same core (taskset -c 0 / -c 0)', client: 0, peer: 0 },
    { name: 'cross-core', short: 'cross', label: 'different cores (taskset -c 0 / -c 1)', client: 0, peer: 1 },
  ];
  if (args.placements) {
    const want = String(args.placements).split(',').map((s) => s.replace(/-core$/, ''));
    placements = placements.filter((p) => want.includes(p.short));
  }
  if (ncpu < 2) {
    log('only one CPU available: measuring the same-core placement only');
    placements = placements.filter((p) => p.peer === p.client);
  }
  const bins = buildHelpers();
  const load = () => `load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`;
  const loadStart = load();
  log(`${guest ? 'guest' : quick ? 'quick' : 'full'} run; sizes ${sizes.map(sizeLabel).join(' ')}; ${local.trials} trials, transports interleaved; provider ${require('..').platform().provider}; ${loadStart}`);
  const trials = local.trials;
  for (const size of [RMA_SIZE, 64 * MiB]) {
    if (guest && size > RMA_SIZE) continue;
    nativeFigure(bins.copybw, 'memcpy', size, trials);
    nativeFigure(bins.copybw, 'pvw', size, trials);
  }
  if (ncpu >= 2) nativeFigure(bins.copybw, 'memcpy2', RMA_SIZE, trials, 'cores 0+1');
  const remote = tcpRemote && transports.includes('tcp') ? { host: String(args['tcp-host']), port: Number(args['tcp-port']) } : null;
  const steal = { placements: {} };
  const runTimes = cpuTimes();
  for (const [i, p] of placements.entries()) {
    log(`${p.label}: ${transports.join(', ')}${i === 0 && remote ? ` (and TCP to ${remote.host}:${remote.port})` : ''}`);
    const t0 = cpuTimes();
    await measurePlacement(p, bins, i === 0 ? remote : null);
    steal.placements[p.name] = stealBetween(t0, cpuTimes());
    log(`${p.short}: steal (CPU time the hypervisor took) ${stealLabel(steal.placements[p.name])}`);
  }
  steal.run = stealBetween(runTimes, cpuTimes());
  const loadEnd = load();

  // The table.
  const columns = [
    { label: 'SCIF', transport: 'scif', op: 'stream' },
    { label: 'RMA wr', transport: 'scif', op: 'rma-writeTo' },
    { label: 'RMA rd', transport: 'scif', op: 'rma-readFrom' },
    { label: 'TCP', transport: 'tcp', op: 'stream' },
    { label: 'Unix', transport: 'unix', op: 'stream' },
    { label: 'SCIF onread', transport: 'scif', op: 'stream-onread' },
    { label: 'TCP onread', transport: 'tcp', op: 'stream-onread' },
    { label: 'Unix onread', transport: 'unix', op: 'stream-onread' },
  ];
  const tablePlacements = tcpRemote ? [...placements, { name: 'remote', short: 'remote' }] : placements;
  console.log('');
  console.log(`Medians [min–max over ${trials} trials; transports interleaved trial by trial]; "!" = a spread beyond ±20% of the median.`);
  console.log(`Placements: ${placements.map((p) => `${p.short} = ${p.label}`).join('; ')}.`);
  console.log(`Load: at the start ${loadStart}; at the end ${loadEnd}.`);
  console.log(`Steal (time this VM's CPUs were ready to run while the hypervisor ran something else, of all CPU time): ${placements.map((p) => `${p.short} ${stealLabel(steal.placements[p.name])}`).join('; ')}.`);
  console.log('');
  table(tablePlacements, columns);
  scaleTable(placements);
  console.log('');
  const floors = results.filter((r) => r.transport === 'native');
  console.log('Floors and ceilings (same run):');
  for (const r of floors) console.log(`  ${r.op === 'roundtrip' ? 'C AF_UNIX 8-byte round trip' : `${r.op} ${sizeLabel(r.size)}`} (${r.placement}): ${fmt(r, { spread: true })}`);
  console.log('');
  console.log('Ratios against the targets (medians of the same run):');
  const rs = ratios(placements, steal.placements);
  printRatios(rs);

  const meta = {
    date: new Date().toISOString(),
    mode: guest ? 'guest' : quick ? 'quick' : 'full',
    provider: require('..').platform().provider,
    kernel: os.release(),
    cpus: ncpu,
    node: process.version,
    trials,
    interleaved: true,
    load: { start: os.loadavg && loadStart, end: loadEnd },
    steal,
    placements: placements.map(({ name, label }) => ({ name, label })),
  };
  writeOutputs(meta, rs, {
    title: 'Throughput: SCIF against TCP and Unix sockets (Node, two processes)',
    note: `${meta.provider} provider, ${meta.mode} run, ${meta.date.slice(0, 10)}, Linux ${meta.kernel}, ${meta.node}; medians`,
    placements,
  });
}

main().catch((err) => fail(err.stack || String(err)));
