#!/usr/bin/env node
// The other guest's half of a remote fixture (test/remote-child.ts): a TCP server on the
// virtio-net link that spawns test/fixtures/NAME for the test process in the peer guest and
// relays its stdio, signals and exit over the connection, as newline-delimited JSON.
// client -> agent: {spawn:{name,args,env}} first, then {stdin:b64} {end:true} {kill:SIG}
// agent -> client: {spawned:pid} {stdout:b64} {stderr:b64} {exit:{code,signal}}, then close.
// The fixture runs on this kernel's own node (SCIF_NODE=0: /dev/scif), whatever node the test
// asked for: on a link every kernel's local device is node 0. A closed connection kills it.
// Usage: node test/guest/fixture-agent.js PORT      (prints "agent listening PORT")
'use strict';
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
const port = Number(process.argv[2] ?? 7700);

const server = net.createServer((sock) => {
  let child = null;
  let buffered = '';
  const send = (m) => {
    if (!sock.destroyed) sock.write(JSON.stringify(m) + '\n');
  };
  sock.setEncoding('utf8');
  sock.on('data', (d) => {
    buffered += d;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const m = JSON.parse(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      if (m.spawn && !child) {
        const { name, args, env } = m.spawn;
        if (!/^[\w.-]+$/.test(name)) {
          send({ exit: { code: 127, signal: null } });
          sock.end();
          return;
        }
        child = spawn(process.execPath, [path.join(ROOT, 'test', 'fixtures', name), ...args], {
          env: { ...process.env, ...env, SCIF_NODE: '0' },
          stdio: ['pipe', 'pipe', 'pipe'],
          cwd: ROOT,
        });
        child.stdin.on('error', () => {});
        send({ spawned: child.pid });
        child.stdout.on('data', (b) => send({ stdout: b.toString('base64') }));
        child.stderr.on('data', (b) => send({ stderr: b.toString('base64') }));
        child.on('close', (code, signal) => {
          send({ exit: { code, signal } });
          sock.end();
        });
      } else if (m.stdin && child) {
        child.stdin.write(Buffer.from(m.stdin, 'base64'));
      } else if (m.end && child) {
        child.stdin.end();
      } else if (m.kill && child && child.exitCode === null && child.signalCode === null) {
        child.kill(m.kill);
      }
    }
  });
  const gone = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  sock.on('close', gone);
  sock.on('error', gone);
});
server.listen(port, '::', () => console.log(`agent listening ${port}`));
process.on('SIGTERM', () => process.exit(0));
