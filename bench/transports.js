// SPDX-License-Identifier: MIT
// The three transports the benchmark compares, behind one small interface:
// listen(transport, options) → { server, address } and connect(transport, address) → socket.
'use strict';
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

let scifModule = null;
function scif() {
  if (!scifModule) scifModule = require('..');
  return scifModule;
}

function unixPath() {
  return path.join(os.tmpdir(), `scif-bench-${process.pid}.sock`);
}

/** Starts a server; resolves to { server, address } once it listens. */
function listen(transport, onConnection, options = {}) {
  return new Promise((resolve, reject) => {
    let server;
    if (transport === 'scif') {
      server = scif().createServer(onConnection);
      server.once('error', reject);
      server.listen(options.port || 0, 1024, () => resolve({ server, address: server.address() }));
    } else if (transport === 'tcp') {
      server = net.createServer({ noDelay: true }, onConnection);
      server.once('error', reject);
      server.listen({ port: options.port || 0, host: options.host || '127.0.0.1', backlog: 1024 }, () => {
        const a = server.address();
        resolve({ server, address: { host: a.address, port: a.port } });
      });
    } else if (transport === 'unix') {
      const p = options.path || unixPath();
      try {
        require('node:fs').unlinkSync(p);
      } catch {}
      server = net.createServer(onConnection);
      server.once('error', reject);
      server.listen({ path: p, backlog: 1024 }, () => resolve({ server, address: { path: p } }));
    } else {
      reject(new Error(`unknown transport ${transport}`));
    }
  });
}

/** Connects; the socket is returned at once (wait for 'connect'). |extra|: more options (e.g. onread). */
function connect(transport, address, extra = {}) {
  if (transport === 'scif') return scif().connect({ node: address.node, port: address.port, ...extra });
  if (transport === 'tcp') {
    const s = net.connect({ host: address.host, port: address.port, noDelay: true, ...extra });
    return s;
  }
  if (transport === 'unix') return net.connect({ path: address.path, ...extra });
  throw new Error(`unknown transport ${transport}`);
}

module.exports = { listen, connect, scif };
