#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// npm run bench: SCIF against TCP and Unix sockets, side by side in one run.
//
//   node bench/run.js [--quick] [--guest] [--json FILE] [--svg FILE]
//                     [--tcp-host H --tcp-port P] [--placements same,cross]
//                     [--transports scif,tcp,unix] [--sizes 1K,64K,4M] [--build-only]
//
// For each placement (both processes on core 0; or core 0 and core 1) and
// each transport, it starts a peer process (bench/peer.js) and a measuring
// client (bench/client.js), both pinned with taskset. Per-operation figures
// come from benchmark.js (deferred benchmarks), throughput from a simple
// driver; raw memcpy and process_vm_writev bandwidth from bench/copybw.c,
// compiled here with cc -O2. Prints a table and the ratios against the
// targets, and writes every figure as JSON and the throughput chart as SVG.
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
  console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 16).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const quick = !!args.quick;
const guest = !!args.guest || !!process.env.SCIF_GUEST;
const KiB = 1024;
const MiB = 1024 * 1024;
const RMA_SIZE = 4 * MiB;
let sizes;
let clientOpts;
if (guest) {
  sizes = [4 * KiB, 64 * KiB, 1 * MiB, 4 * MiB];
  clientOpts = { 'max-time': '0.5', trials: '3', 'min-bytes': String(8 * MiB) };
} else if (quick) {
  sizes = [1 * KiB, 16 * KiB, 256 * KiB, 4 * MiB];
  clientOpts = { 'max-time': '0.25', trials: '3', 'min-bytes': String(16 * MiB) };
} else {
  sizes = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536].map((k) => k * KiB);
  clientOpts = { 'max-time': '1.5', trials: '7', 'min-bytes': String(64 * MiB) };
}
if (args.sizes) sizes = String(args.sizes).split(',').map((s) => parseSize(s));
const transports = String(args.transports || 'scif,tcp,unix').split(',');
const tcpRemote = args['tcp-host'] !== undefined;
if (tcpRemote && args['tcp-port'] === undefined) fail('--tcp-host needs --tcp-port');
const stem = guest ? '-guest' : '';
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

function buildHelper() {
  const src = path.join(HERE, 'copybw.c');
  const bin = path.join(OUT, 'copybw');
  fs.mkdirSync(OUT, { recursive: true });
  const stale = !fs.existsSync(bin) || fs.statSync(bin).mtimeMs < fs.statSync(src).mtimeMs;
  if (stale) {
    const r = spawnSync('cc', ['-O2', '-Wall', '-o', bin, src], { stdio: 'inherit' });
    if (r.error || r.status !== 0) fail(`cc -O2 ${path.relative(ROOT, src)} failed${r.error ? `: ${r.error.message}` : ''} (a C compiler is needed for the memcpy and process_vm_writev ceilings)`);
  }
  return bin;
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

function nativeFigure(bin, op, size, trials) {
  const r = spawnSync('taskset', ['-c', '0', bin, op, String(size), String(trials)], { encoding: 'utf8' });
  if (r.status !== 0) fail(`${path.basename(bin)} ${op} ${size}: ${r.stderr || r.error}`);
  const j = JSON.parse(r.stdout);
  const gbs = j.samples.map((s) => size / s / 1e9);
  const fig = { transport: 'native', op: j.op, size, placement: 'core 0', median: median(gbs), unit: 'GB/s', samples: gbs };
  results.push(fig);
  log(`native ${j.op} ${sizeLabel(size)}: ${fig.median.toFixed(2)} GB/s`);
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

function stopPeer(peer) {
  if (!peer) return Promise.resolve();
  return new Promise((resolve) => {
    if (peer.child.exitCode !== null || peer.child.signalCode !== null) return resolve();
    const timer = setTimeout(() => peer.child.kill('SIGKILL'), 3000);
    peer.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    peer.child.stdin.end();
  });
}

function runClient(transport, address, placement, core) {
  return new Promise((resolve, reject) => {
    const cargs = ['-c', String(core), process.execPath, path.join(HERE, 'client.js'), '--transport', transport,
      '--address', JSON.stringify(address), '--placement', placement, '--sizes', sizes.join(','),
      '--rma-size', String(RMA_SIZE)];
    for (const [k, v] of Object.entries(clientOpts)) cargs.push(`--${k}`, v);
    const child = spawn('taskset', cargs, { env: { ...process.env, SCIF_NODE: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        process.stderr.write(`${line}\n`);
        return;
      }
      if (msg.type === 'progress') log(msg.text);
      else if (msg.type === 'result') {
        delete msg.type;
        results.push(msg);
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${transport}/${placement} client failed (${signal || code})`));
    });
  });
}

// --- Report ------------------------------------------------------------------------

function find(transport, op, size, placement) {
  return results.find((r) => r.transport === transport && r.op === op && r.size === size && (placement === undefined || r.placement === placement));
}

function fmt(r) {
  if (!r) return '—';
  const v = r.median;
  if (r.unit === 'us') return `${v < 100 ? v.toFixed(1) : v.toFixed(0)} µs`;
  return `${v.toFixed(v < 10 ? 2 : 1)} GB/s`;
}

function table(placements, columns) {
  const rows = [];
  const header = ['figure', ...columns.flatMap((c) => placements.map((p) => `${c.label} ${p.short}`))];
  const perOp = [
    ['8-byte round trip', 'roundtrip', 8, ['scif', 'tcp', 'unix']],
    ['connect+accept', 'connect', 0, ['scif', 'tcp', 'unix']],
    [`one ${sizeLabel(RMA_SIZE)} transfer (stream)`, 'transfer', RMA_SIZE, ['scif', 'tcp', 'unix']],
    [`one ${sizeLabel(RMA_SIZE)} RMA writeTo`, 'writeTo', RMA_SIZE, ['scif']],
    [`one ${sizeLabel(RMA_SIZE)} RMA readFrom`, 'readFrom', RMA_SIZE, ['scif']],
  ];
  for (const [label, op, size] of perOp) {
    rows.push([label, ...columns.flatMap((c) => placements.map((p) => (c.op === 'stream' ? fmt(find(c.transport, op, size, p.name)) : '')))]);
  }
  for (const size of sizes) {
    rows.push([`${sizeLabel(size)} writes/copies, GB/s`, ...columns.flatMap((c) => placements.map((p) => fmt(find(c.transport, c.op, size, p.name)).replace(' GB/s', '')))]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

function ratios(placements) {
  const out = [];
  const pvw = find('native', 'process_vm_writev', RMA_SIZE);
  for (const p of placements) {
    const tcpP = tcpRemote ? 'remote' : p.name;
    const tcpStream = find('tcp', 'stream', RMA_SIZE, tcpP);
    const scifStream = find('scif', 'stream', RMA_SIZE, p.name);
    const w = find('scif', 'writeTo', RMA_SIZE, p.name);
    const wGBs = w ? RMA_SIZE / (w.median * 1e-6) / 1e9 : undefined;
    const rtS = find('scif', 'roundtrip', 8, p.name);
    const rtT = find('tcp', 'roundtrip', 8, tcpP);
    const add = (what, value, target, ge, detail) => {
      if (value === undefined || !Number.isFinite(value)) return out.push({ placement: p.name, what, target, value: null, pass: false, detail: 'not measured' });
      out.push({ placement: p.name, what, target, value, pass: ge ? value >= target : value <= target, detail, ge });
    };
    if (wGBs && tcpStream) add('RMA writeTo 4 MiB / TCP stream 4 MiB', wGBs / tcpStream.median, 8, true, `${wGBs.toFixed(2)} / ${tcpStream.median.toFixed(2)} GB/s`);
    if (wGBs && pvw) add('RMA writeTo 4 MiB / raw process_vm_writev 4 MiB', wGBs / pvw.median, 0.85, true, `${wGBs.toFixed(2)} / ${pvw.median.toFixed(2)} GB/s`);
    if (scifStream && tcpStream) add('SCIF stream 4 MiB / TCP stream 4 MiB', scifStream.median / tcpStream.median, 3, true, `${scifStream.median.toFixed(2)} / ${tcpStream.median.toFixed(2)} GB/s`);
    if (rtS && rtT) add('SCIF 8-byte round trip / TCP', rtS.median / rtT.median, 0.6, false, `${rtS.median.toFixed(1)} / ${rtT.median.toFixed(1)} µs`);
  }
  return out;
}

// --- Main ----------------------------------------------------------------------------

async function main() {
  if (args['build-only']) {
    buildHelper();
    return;
  }
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
  const bin = buildHelper();
  log(`${guest ? 'guest' : quick ? 'quick' : 'full'} run; sizes ${sizes.map(sizeLabel).join(' ')}; provider ${require('..').platform().provider}`);
  const trials = quick || guest ? 5 : 9;
  for (const size of [RMA_SIZE, 64 * MiB]) {
    if (guest && size > RMA_SIZE) continue;
    nativeFigure(bin, 'memcpy', size, trials);
    nativeFigure(bin, 'pvw', size, trials);
  }
  for (const p of placements) {
    for (const t of transports) {
      if (t === 'tcp' && tcpRemote) continue;
      log(`${t}: peer on core ${p.peer}, client on core ${p.client}`);
      let peer;
      try {
        peer = await startPeer(t, p.peer);
        await runClient(t, peer.address, p.name, p.client);
      } finally {
        await stopPeer(peer);
      }
    }
  }
  if (tcpRemote && transports.includes('tcp')) {
    const address = { host: String(args['tcp-host']), port: Number(args['tcp-port']) };
    log(`tcp: remote peer ${address.host}:${address.port}, client on core 0`);
    await runClient('tcp', address, 'remote', 0);
  }

  // The table.
  const columns = [
    { label: 'SCIF', transport: 'scif', op: 'stream' },
    { label: 'RMA wr', transport: 'scif', op: 'rma-writeTo' },
    { label: 'RMA rd', transport: 'scif', op: 'rma-readFrom' },
    { label: 'TCP', transport: 'tcp', op: 'stream' },
    { label: 'Unix', transport: 'unix', op: 'stream' },
  ];
  const tablePlacements = tcpRemote ? [...placements, { name: 'remote', short: 'remote' }] : placements;
  console.log('');
  console.log(`Medians. Placements: ${placements.map((p) => `${p.short} = ${p.label}`).join('; ')}.`);
  console.log('');
  table(tablePlacements, columns);
  console.log('');
  const nat = results.filter((r) => r.transport === 'native');
  console.log(`Ceilings (core 0): ${nat.map((r) => `${r.op} ${sizeLabel(r.size)} ${r.median.toFixed(2)} GB/s`).join(', ')}`);
  console.log('');
  console.log('Ratios against the targets (same run):');
  const rs = ratios(placements);
  for (const r of rs) {
    const v = r.value === null ? 'n/a' : `${r.value.toFixed(2)}×`;
    console.log(`  ${r.pass ? 'PASS' : 'MISS'}  ${r.placement.padEnd(10)} ${r.what.padEnd(48)} ${v.padStart(7)}  (target ${r.ge ? '≥' : '≤'} ${r.target}×; ${r.detail})`);
  }

  fs.mkdirSync(path.dirname(path.resolve(jsonFile)), { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    mode: guest ? 'guest' : quick ? 'quick' : 'full',
    provider: require('..').platform().provider,
    kernel: os.release(),
    cpus: ncpu,
    node: process.version,
    placements: placements.map(({ name, label }) => ({ name, label })),
  };
  fs.writeFileSync(jsonFile, `${JSON.stringify({ meta, results, ratios: rs }, null, 1)}\n`);
  fs.mkdirSync(path.dirname(path.resolve(svgFile)), { recursive: true });
  fs.writeFileSync(
    svgFile,
    chart(results, {
      title: 'Throughput: SCIF against TCP and Unix sockets (Node, two processes)',
      note: `${meta.provider} provider, ${meta.mode} run, ${meta.date.slice(0, 10)}, Linux ${meta.kernel}, ${meta.node}; medians`,
      placements,
    }),
  );
  console.log('');
  console.log(`JSON: ${path.relative(process.cwd(), jsonFile)}   chart: ${path.relative(process.cwd(), svgFile)}   (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

main().catch((err) => fail(err.stack || String(err)));
