#!/usr/bin/env node
// HTTP over SCIF: Node's own http server and client, with SCIF underneath.
// The server is an http.Server fed by a scif server's 'connection' events;
// the client is an http.Agent whose createConnection returns a scif socket.
// Nothing else changes: keep-alive, bodies, aborts are http's own.
// Usage: node examples/http.js [bodyMiB]
'use strict';
const http = require('node:http');
const { createHash } = require('node:crypto');
const scif = require('..');

const bodyBytes = (Number(process.argv[2]) || 8) << 20;

// --- the server side (node 0 here; any node in general) ---------------------
const httpServer = http.createServer((req, res) => {
  if (req.method === 'POST') {
    const hash = createHash('sha256');
    let n = 0;
    req.on('data', (d) => {
      hash.update(d);
      n += d.length;
    });
    req.on('end', () => res.end(JSON.stringify({ received: n, sha256: hash.digest('hex') })));
    return;
  }
  res.end(`hello from node ${scif.platform().node}, ${req.method} ${req.url}\n`);
});
const server = scif.createServer((socket) => httpServer.emit('connection', socket));

server.listen(0, async () => {
  const address = server.address();
  console.log(`http over scif on ${address.node}:${address.port}`);

  // --- the client side --------------------------------------------------------
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  agent.createConnection = (_options, callback) => {
    const socket = scif.connect(address);
    socket.once('connect', () => callback(null, socket));
  };
  const request = (options, body) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: 'scif', agent, ...options }, (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => resolve({ res, body: Buffer.concat(chunks), reused: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end(body);
    });

  try {
    const first = await request({ path: '/first' });
    process.stdout.write(`GET /first -> ${first.res.statusCode} ${first.body}`);
    const second = await request({ path: '/second' });
    process.stdout.write(`GET /second -> ${second.res.statusCode} ${second.body}`);
    console.log(`keep-alive: second request reused the connection: ${second.reused}`);

    const body = Buffer.alloc(bodyBytes);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32LE((i * 2654435761) >>> 0, i);
    const sent = createHash('sha256').update(body).digest('hex');
    const post = await request({ method: 'POST', path: '/upload' }, body);
    const reply = JSON.parse(String(post.body));
    console.log(`POST ${body.length} bytes -> ${reply.received} received, SHA-256 ${reply.sha256 === sent ? 'match' : 'MISMATCH'}`);
    if (reply.sha256 !== sent || !second.reused) process.exitCode = 1;
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  } finally {
    agent.destroy();
    httpServer.closeAllConnections();
    server.close();
  }
});
