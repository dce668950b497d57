#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// npm run bench: SCIF against TCP and Unix sockets, side by side in one run.
//
//   node bench/run.js [--quick] [--guest] [--json FILE] [--svg FILE]
//                     [--tcp-host H --tcp-port P] [--placements same,cross]
//                     [--transports scif,tcp,unix] [--sizes 1K,64K,4M] [--build-only]
//   node bench/run.js --link [--quick] [--json FILE] [--svg FILE] [--sizes ...]
//                     [--kernel 6.1|6.12] [--prebuilt] [--debug-mm] [--timeout S]
//                     [--ops roundtrip,connect,transfer,stream,rma]
//
// For each placement (both processes on core 0; or core 0 and core 1) and
// each transport, it starts a peer process (bench/peer.js) and a measuring
// client (bench/client.js), both pinned with taskset. Per-operation figures
// come from benchmark.js (deferred benchmarks), throughput from a simple
// driver; raw memcpy and process_vm_writev bandwidth from bench/copybw.c,
// compiled here with cc -O2. Prints a table and the ratios against the
// targets, and writes every figure as JSON and the throughput chart as SVG.
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
  console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 24).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const quick = !!args.quick;
const link = !!args.link;
const guest = !link && (!!args.guest || !!process.env.SCIF_GUEST);
const KiB = 1024;
const MiB = 1024 * 1024;
const RMA_SIZE = 4 * MiB;
let sizes;
let clientOpts;
if (link) {
  // Under TCG, TCP over virtio-net moves ~30 MB/s: a trial is at most 8 (quick) or 32 MiB
  // (at least 4 writes: 16 MiB of 4 MiB writes, 64 MiB of 16 MiB ones).
  sizes = quick ? [4 * KiB, 64 * KiB, 1 * MiB, 4 * MiB] : [1, 4, 16, 64, 256, 1024, 4096, 16384].map((k) => k * KiB);
  clientOpts = quick ? { 'batch-time': '0.3', trials: '5', 'min-bytes': String(8 * MiB) } : { 'batch-time': '0.5', trials: '9', 'min-bytes': String(32 * MiB) };
} else if (guest) {
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

// Throughput in the table: GB/s, or MB/s for --link (emulated guests move tens of MB/s).
const MBS = link;
function fmt(r) {
  if (!r) return '—';
  const v = r.median;
  if (r.unit === 'us') return `${v < 100 ? v.toFixed(1) : v.toFixed(0)} µs`;
  if (MBS) return `${(v * 1000).toFixed(v < 0.1 ? 1 : 0)} MB/s`;
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
    const unit = MBS ? 'MB/s' : 'GB/s';
    rows.push([`${sizeLabel(size)} writes/copies, ${unit}`, ...columns.flatMap((c) => placements.map((p) => fmt(find(c.transport, c.op, size, p.name)).replace(` ${unit}`, '')))]);
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
  buildHelper(); // bench/out/copybw: the guests run it for their memcpy figure
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
    buildHelper();
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

  const meta = {
    date: new Date().toISOString(),
    mode: guest ? 'guest' : quick ? 'quick' : 'full',
    provider: require('..').platform().provider,
    kernel: os.release(),
    cpus: ncpu,
    node: process.version,
    placements: placements.map(({ name, label }) => ({ name, label })),
  };
  writeOutputs(meta, rs, {
    title: 'Throughput: SCIF against TCP and Unix sockets (Node, two processes)',
    note: `${meta.provider} provider, ${meta.mode} run, ${meta.date.slice(0, 10)}, Linux ${meta.kernel}, ${meta.node}; medians`,
    placements,
  });
}

main().catch((err) => fail(err.stack || String(err)));
