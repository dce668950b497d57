// SPDX-License-Identifier: MIT
// The throughput chart as an SVG string, no dependencies: GB/s against
// transfer size (log-scale x), one panel per placement, SCIF stream and RMA
// against TCP and Unix, with the memcpy ceiling (and raw process_vm_writev)
// as horizontal lines — in the manner of the SCIF patch series' TCP-vs-SCIF chart.
'use strict';

const SERIES = [
  { transport: 'scif', op: 'rma-writeTo', label: 'SCIF RMA writeTo', color: '#c0392b', width: 2.5 },
  { transport: 'scif', op: 'rma-readFrom', label: 'SCIF RMA readFrom', color: '#e67e22', width: 2, dash: '6 3' },
  { transport: 'scif', op: 'stream', label: 'SCIF stream', color: '#8e44ad', width: 2.5 },
  { transport: 'unix', op: 'stream', label: 'Unix socket stream', color: '#2980b9', width: 2 },
  { transport: 'tcp', op: 'stream', label: 'TCP stream', color: '#27ae60', width: 2 },
];

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function sizeLabel(n) {
  if (n >= 1 << 20) return `${n / (1 << 20)}M`;
  if (n >= 1 << 10) return `${n / (1 << 10)}K`;
  return String(n);
}

function niceMax(v) {
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

/**
 * results: the benchmark's figures ({ transport, op, size, placement, median, unit });
 * options: { title, placements: [{ name, label }], note, logY, footer }. logY: a
 * log-scale y axis (decades), for figures that span orders of magnitude (the link
 * run); footer: a line of text under the legend.
 * The legend lists the series and ceilings that have data.
 */
function chart(results, options = {}) {
  const placements = options.placements;
  const pw = 560;
  const ph = 380;
  const margin = { left: 62, right: 20, top: 80, bottom: 50 };
  const legendH = 26 * 2 + 10;
  const W = placements.length * (pw + margin.left + margin.right) + 20;
  const H = margin.top + ph + margin.bottom + legendH + 30;
  // The series and the reference lines only (not the two-core memcpy or the scale rows).
  const bw = results.filter((r) => r.unit === 'GB/s' && (r.transport === 'native' ? r.op !== 'memcpy-2core' : SERIES.some((s) => s.transport === r.transport && s.op === r.op)));
  const memcpy = bw.find((r) => r.op === 'memcpy' && r.size === 4 << 20);
  const pvw = bw.find((r) => r.op === 'process_vm_writev' && r.size === 4 << 20);
  const pipe = bw.find((r) => r.op === 'pipe');
  const sizes = [...new Set(bw.filter((r) => r.transport !== 'native').map((r) => r.size))].sort((a, b) => a - b);
  if (sizes.length === 0) return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>';
  const ymaxData = Math.max(...bw.map((r) => r.median));
  const logY = !!options.logY;
  const yMax = logY ? 10 ** Math.ceil(Math.log10(ymaxData * 1.08)) : niceMax(ymaxData * 1.08);
  const yMin = logY ? 10 ** Math.floor(Math.log10(Math.min(...bw.map((r) => r.median)))) : 0;
  const xMin = Math.log2(sizes[0]);
  const xMax = Math.log2(sizes[sizes.length - 1]);
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">${esc(options.title || 'Throughput: SCIF against TCP and Unix sockets')}</text>`,
  );
  if (options.note) out.push(`<text x="${W / 2}" y="42" text-anchor="middle" fill="#555">${esc(options.note)}</text>`);
  placements.forEach((pl, pi) => {
    const ox = 10 + pi * (pw + margin.left + margin.right) + margin.left;
    const oy = margin.top;
    const X = (size) => ox + ((Math.log2(size) - xMin) / (xMax - xMin || 1)) * pw;
    const Y = logY
      ? (v) => oy + ph - ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin) || 1)) * ph
      : (v) => oy + ph - (v / yMax) * ph;
    out.push(`<text x="${ox + pw / 2}" y="${oy - 8}" text-anchor="middle" font-size="14" font-weight="bold">${esc(pl.label)}</text>`);
    // Grid and axes.
    const ticks = 5;
    const yTicks = [];
    if (logY) for (let v = yMin; v <= yMax * 1.0001; v *= 10) yTicks.push(v);
    else for (let i = 0; i <= ticks; i++) yTicks.push((yMax / ticks) * i);
    for (const v of yTicks) {
      const y = Y(v);
      out.push(`<line x1="${ox}" y1="${y}" x2="${ox + pw}" y2="${y}" stroke="#e5e5e5"/>`);
      out.push(`<text x="${ox - 6}" y="${y + 4}" text-anchor="end">${logY ? +v.toPrecision(3) : +v.toFixed(2)}</text>`);
    }
    for (const s of sizes) {
      const x = X(s);
      out.push(`<line x1="${x}" y1="${oy}" x2="${x}" y2="${oy + ph}" stroke="#f0f0f0"/>`);
      out.push(`<line x1="${x}" y1="${oy + ph}" x2="${x}" y2="${oy + ph + 5}" stroke="#333"/>`);
      out.push(`<text x="${x}" y="${oy + ph + 18}" text-anchor="middle">${sizeLabel(s)}</text>`);
    }
    out.push(`<rect x="${ox}" y="${oy}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
    out.push(`<text x="${ox + pw / 2}" y="${oy + ph + 38}" text-anchor="middle">transfer size (bytes; write size = copy size), log scale</text>`);
    out.push(`<text transform="translate(${ox - 44},${oy + ph / 2}) rotate(-90)" text-anchor="middle">throughput (GB/s${logY ? ', log scale' : ''})</text>`);
    // Ceilings.
    const ceilings = [
      memcpy && { v: memcpy.median, label: `memcpy 4 MiB: ${memcpy.median.toFixed(1)} GB/s`, color: '#000', dash: '8 4' },
      pvw && { v: pvw.median, label: `process_vm_writev 4 MiB: ${pvw.median.toFixed(1)} GB/s`, color: '#777', dash: '3 3' },
      pipe && { v: pipe.median, label: `kernel pipe: ${(pipe.median * 1000).toFixed(0)} MB/s`, color: '#777', dash: '3 3' },
    ].filter(Boolean);
    for (const c of ceilings) {
      const y = Y(c.v);
      out.push(`<line x1="${ox}" y1="${y}" x2="${ox + pw}" y2="${y}" stroke="${c.color}" stroke-width="1.5" stroke-dasharray="${c.dash}"/>`);
      out.push(`<text x="${ox + 6}" y="${y - 5}" fill="${c.color}">${esc(c.label)}</text>`);
    }
    // Series.
    for (const s of SERIES) {
      const pts = bw
        .filter((r) => r.transport === s.transport && r.op === s.op && r.placement === pl.name)
        .sort((a, b) => a.size - b.size);
      if (pts.length === 0) continue;
      const d = pts.map((r, i) => `${i ? 'L' : 'M'}${X(r.size).toFixed(1)},${Y(r.median).toFixed(1)}`).join(' ');
      out.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      );
      for (const r of pts) {
        out.push(
          `<circle cx="${X(r.size).toFixed(1)}" cy="${Y(r.median).toFixed(1)}" r="3" fill="${s.color}"><title>${esc(`${s.label}, ${sizeLabel(r.size)}: ${r.median.toFixed(3)} GB/s`)}</title></circle>`,
        );
      }
    }
  });
  // Legend.
  const ly = margin.top + ph + margin.bottom + 12;
  const items = [
    ...SERIES.filter((s) => bw.some((r) => r.transport === s.transport && r.op === s.op)).map((s) => ({ ...s, kind: 'line' })),
    memcpy && { label: 'memcpy ceiling (4 MiB)', color: '#000', dash: '8 4', width: 1.5 },
    pvw && { label: 'raw process_vm_writev (4 MiB)', color: '#777', dash: '3 3', width: 1.5 },
    pipe && { label: 'pipe in the guest (dd | dd, 1 MiB)', color: '#777', dash: '3 3', width: 1.5 },
  ].filter(Boolean);
  const cols = placements.length === 1 ? 2 : 4;
  const colW = (W - 40) / cols;
  items.forEach((it, i) => {
    const x = 30 + (i % cols) * colW;
    const y = ly + Math.floor(i / cols) * 26;
    out.push(
      `<line x1="${x}" y1="${y}" x2="${x + 34}" y2="${y}" stroke="${it.color}" stroke-width="${it.width}"${it.dash ? ` stroke-dasharray="${it.dash}"` : ''}/>`,
      `<text x="${x + 42}" y="${y + 4}">${esc(it.label)}</text>`,
    );
  });
  if (options.footer) out.push(`<text x="30" y="${H - 12}" fill="#555">${esc(options.footer)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

module.exports = { chart, sizeLabel };
