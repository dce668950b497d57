#!/usr/bin/env node
// Runs the vitest suite and ends with one line "N passed, N failed", read
// from vitest's JSON report. Extra arguments go to vitest.
// Usage: node scripts/vitest-run.js LABEL [vitest args...]
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const label = process.argv[2] ?? 'suite';
const report = path.join(root, 'build', `vitest-${label}.json`);
fs.mkdirSync(path.dirname(report), { recursive: true });
fs.rmSync(report, { force: true });
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
if (!fs.existsSync(vitest)) {
  console.error(`${label}: vitest is not installed (run npm install)`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(3)],
  { cwd: root, stdio: 'inherit' },
);
let passed = 0;
let failed = 0;
try {
  const json = JSON.parse(fs.readFileSync(report, 'utf8'));
  passed = json.numPassedTests;
  failed = json.numFailedTests + (json.numTotalTestSuites > 0 && json.numTotalTests === 0 ? 1 : 0);
  // A file that failed to load has no tests but is a failure all the same.
  for (const f of json.testResults ?? []) if (f.status === 'failed' && f.assertionResults.length === 0) failed++;
  if (json.numTotalTests === 0) failed++;
} catch (err) {
  console.error(`${label}: no vitest report (${err.message})`);
  failed++;
}
if (r.status !== 0 && failed === 0) failed = 1;
console.log(`${label}: ${passed} passed, ${failed} failed`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
