// Writes dist/index.mjs: an ES module that re-exports the CommonJS build,
// so `import { createServer } from 'scif'` works alongside require(). It
// loads the CommonJS build with createRequire, so that tools that honour
// __esModule (bundlers, vitest) see the same exports as plain Node.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const api = require(path.join(dist, 'index.js'));
const names = Object.keys(api).filter((n) => n !== 'default' && n !== '__esModule');
const lines = [
  "import { createRequire } from 'node:module';",
  "const api = createRequire(import.meta.url)('./index.js');",
  ...names.map((n) => `export const ${n} = api.${n};`),
  'export default api;',
  '',
];
fs.writeFileSync(path.join(dist, 'index.mjs'), lines.join('\n'));
fs.writeFileSync(
  path.join(dist, 'index.d.mts'),
  "export * from './index.js';\nimport api = require('./index.js');\nexport default api;\n",
);
