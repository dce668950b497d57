#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Markdown tables (figures, ratios) from a results JSON written by run.js:
//   node bench/report.js [bench/results/results.json]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { sizeLabel } = require('./svg');

// A link run (npm run bench:link) is reported in MB/s, without Unix sockets.
const file = process.argv[2] || path.join(__dirname, 'results', 'results.json');
const { meta, results, ratios } = JSON.parse(fs.readFileSync(file, 'utf8'));
const link = /^link/.test(meta.mode);
const pls = meta.placements.map((p) => p.name);
const short = (p) => p.replace('-core', '');
const find = (t, op, size, p) => results.find((r) => r.transport === t && r.op === op && r.size === size && r.placement === p);
const v = (x, unit) => (unit === 'us' ? (x < 100 ? x.toFixed(1) : x.toFixed(0)) : unit === 'GB/s' && link ? (x * 1000).toFixed(x < 0.1 ? 1 : 0) : unit === 'KiB' ? x.toFixed(1) : x.toFixed(2));
// The median with its spread across trials (min–max), ⚠ where it exceeds ±20% of the median.
const f = (r) => {
  if (!r) return '—';
  const u = r.unit === 'us' ? ' µs' : r.unit === 'KiB' ? ' KiB' : '';
  const s = r.samples || [];
  if (s.length < 2) return `${v(r.median, r.unit)}${u}`;
  const lo = r.min ?? Math.min(...s);
  const hi = r.max ?? Math.max(...s);
  const wide = lo < 0.8 * r.median || hi > 1.2 * r.median;
  return `${v(r.median, r.unit)}${u} (${v(lo, r.unit)}–${v(hi, r.unit)})${wide ? ' ⚠' : ''}`;
};

const transports = link ? ['scif', 'tcp'] : ['scif', 'tcp', 'unix'];
const name = { scif: 'SCIF', tcp: 'TCP', unix: 'Unix' };
const cols = [['SCIF stream', 'scif', 'stream'], ['SCIF RMA writeTo', 'scif', 'rma-writeTo'], ['SCIF RMA readFrom', 'scif', 'rma-readFrom'], ['TCP', 'tcp', 'stream'], ['Unix', 'unix', 'stream'], ['SCIF onread', 'scif', 'stream-onread'], ['TCP onread', 'tcp', 'stream-onread'], ['Unix onread', 'unix', 'stream-onread']].filter(([, t, op]) => transports.includes(t) && results.some((r) => r.transport === t && r.op === op));
const lines = [];
lines.push(`| figure (median) | ${transports.map((t) => pls.map((p) => `${name[t]}, ${short(p)}`).join(' | ')).join(' | ')} |`);
lines.push(`| --- |${' ---: |'.repeat(pls.length * transports.length)}`);
const M = 4 << 20;
for (const [label, op, size] of [['8-byte round trip', 'roundtrip', 8], ['connect+accept', 'connect', 0], ['one 4 MiB transfer, stream', 'transfer', M], ['one 4 MiB RMA writeTo', 'writeTo', M], ['one 4 MiB RMA readFrom', 'readFrom', M]]) {
  lines.push(`| ${label} | ${transports.map((t) => pls.map((p) => f(find(t, op, size, p))).join(' | ')).join(' | ')} |`);
}
console.log(lines.join('\n'));
console.log('');
const sizes = [...new Set(results.filter((r) => r.op === 'stream').map((r) => r.size))].sort((a, b) => a - b);
const l2 = [];
l2.push(`| ${link ? 'MB/s' : 'GB/s'}, write/copy size | ${cols.map(([l]) => pls.map((p) => `${l}, ${short(p)}`).join(' | ')).join(' | ')} |`);
l2.push(`| --- |${' ---: |'.repeat(cols.length * pls.length)}`);
for (const s of sizes) l2.push(`| ${sizeLabel(s)} | ${cols.map(([, t, op]) => pls.map((p) => f(find(t, op, s, p))).join(' | ')).join(' | ')} |`);
console.log(l2.join('\n'));
console.log('');
const nat = results.filter((r) => r.transport === 'native');
if (link) {
  console.log(`Reference (the card guest, one process): ${nat.map((r) => `${r.op} ${sizeLabel(r.size)} ${r.median.toFixed(2)} GB/s`).join(', ')}.`);
} else {
  const l4 = ['| floor / ceiling (same run) | placement | median (min–max) |', '| --- | --- | ---: |'];
  for (const r of nat) l4.push(`| ${r.op === 'roundtrip' ? 'C AF_UNIX 8-byte round trip' : `${r.op} ${sizeLabel(r.size)}${r.unit === 'GB/s' ? ', GB/s' : ''}`} | ${r.placement} | ${f(r)} |`);
  console.log(l4.join('\n'));
}
console.log('');
const scale = results.filter((r) => r.op === 'scale-aggregate');
if (scale.length) {
  const l5 = [`| ${scale[0].connections} connections, ${sizeLabel(scale[0].perConnection)} each in ${sizeLabel(scale[0].size)} writes | aggregate, GB/s | / one connection | slowest / fastest | RSS per idle connection |`, '| --- | ---: | ---: | ---: | ---: |'];
  for (const a of scale) {
    const fair = find(a.transport, 'scale-fairness', a.size, a.placement);
    const rss = find(a.transport, 'scale-idle-rss', 0, a.placement);
    const one = find(a.transport, 'stream', a.size, a.placement);
    l5.push(`| ${name[a.transport]}, ${short(a.placement)} | ${f(a)} | ${one ? `${(a.median / one.median).toFixed(2)}×` : '—'} | ${f(fair)} | ${f(rss)} |`);
  }
  console.log(l5.join('\n'));
  console.log('');
}
// A placement whose steal (see below) reached 10% of CPU time: its ratios say so.
const stealNote = (r) => (r.steal >= 10 ? ` (steal ${r.steal.toFixed(0)}%)` : '');
const l3 = ['| target | placement | measured | result |', '| --- | --- | ---: | --- |'];
for (const r of ratios) {
  const measured = r.value === null ? `n/a${/EOPNOTSUPP/.test(r.detail) ? ' (no RMA across the link yet: EOPNOTSUPP)' : ` (${r.detail})`}` : `${r.value.toFixed(2)}× (${r.detail})`;
  l3.push(`| ${r.what} ${r.ge ? '≥' : '≤'} ${r.target}× | ${r.placement} | ${measured}${r.noisy ? ' ⚠' : ''}${stealNote(r)} | ${r.value === null ? 'n/a' : r.pass ? 'PASS' : r.beyond ? `MISS: ${r.beyond}` : 'MISS'} |`);
}
console.log(l3.join('\n'));
// Steal: the share of CPU time the hypervisor ran something else while this VM's CPUs were ready (run.js measures it per placement).
if (meta.steal && meta.steal.placements) {
  const pc = (x) => `${x.toFixed(x < 10 ? 1 : 0)}%`;
  const each = Object.entries(meta.steal.placements).map(([p, s]) =>
    s.all === undefined ? `${short(p)} not measured (no /proc/stat)` : `${short(p)} ${pc(s.all)} (${Object.keys(s).filter((k) => k !== 'all').sort().map((k) => `${k} ${pc(s[k])}`).join(', ')})`);
  console.log('');
  console.log(`Steal (CPU time the hypervisor took, of all CPU time): ${each.join('; ')}.`);
}
