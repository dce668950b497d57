#!/usr/bin/env node
// An echo server on this process's SCIF node (SCIF_NODE, default 0).
// Usage: node examples/echo-server.js [port]     (port 0 or omitted: any)
'use strict';
const scif = require('..');

const port = Number(process.argv[2] ?? 0);
const server = scif.createServer((socket) => {
  const peer = `${socket.remoteNode}:${socket.remotePort}`;
  console.log(`echo-server: connection from ${peer}`);
  socket.pipe(socket);
  socket.on('close', () => console.log(`echo-server: ${peer} closed`));
  socket.on('error', (err) => console.error(`echo-server: ${peer}: ${err.message}`));
});
server.on('error', (err) => {
  console.error(`echo-server: ${err.message}`);
  process.exit(1);
});
server.listen(port, () => {
  const { node, port } = server.address();
  // The first line is machine-readable so that scripts can find the port.
  console.log(`listening ${node}:${port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
