#!/usr/bin/env node
// scif: poke a SCIF transport by hand, as socat/ncat do for TCP.
// Arguments are parsed with node:util parseArgs (built into Node, no dependency).
// Exit codes: 0 success, 1 a runtime failure (refused, reset, hash mismatch, lost
// pings), 2 a usage error. Messages go to stderr as "scif: ...".
'use strict';
const { parseArgs } = require('node:util');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const PROG = 'scif';
const COMMON = {
  node: { type: 'string', short: 'n' },
  help: { type: 'boolean', short: 'h' },
};

const HELP = {
  main: `Usage: scif COMMAND [options]

Commands:
  nodes                        this node and the online nodes
  listen PORT [--exec CMD]     accept a connection; pipe it to stdin/stdout or to CMD
  connect NODE:PORT            connect; pipe stdin/stdout over the connection
  ping NODE:PORT [-c N]        round trips to an echo server (scif listen PORT --echo)
  send-file NODE:PORT FILE     send FILE; both ends check its SHA-256
  recv-file PORT [-o FILE]     receive one file sent by send-file

Options for every command:
  -n, --node N                 act as SCIF node N (sets SCIF_NODE; user provider)
  -h, --help                   help for the command

'scif COMMAND --help' tells more. Exit status: 0 ok, 1 failure, 2 usage error.`,
  nodes: `Usage: scif nodes [--json]

Prints this process's node and the online nodes, and the provider in use.
  --json                       one JSON object instead of text`,
  listen: `Usage: scif listen PORT [options]

Listens on PORT of this node (0: any free port) and serves one connection
(or many with -k): its bytes go to stdout and stdin's go to it, or CMD runs
with the connection as its stdin and stdout. SCIF has no half-close: the
connection closes when stdin ends (unless --recv-only) or the peer closes.
  -e, --exec CMD               run CMD (with /bin/sh -c) for each connection
      --echo                   echo every byte back (a peer for scif ping)
  -k, --keep-open              keep listening after the first connection
      --recv-only              never send stdin; keep the connection open
  -v, --verbose                print "listening NODE:PORT" and connections on stderr`,
  connect: `Usage: scif connect NODE:PORT [options]

Connects to PORT on NODE; stdin goes to the connection, its bytes to stdout.
SCIF has no half-close, so when stdin ends the connection closes once the
written bytes have been delivered (after -q seconds, or when the peer closes).
  -q, --quit-after SECS        after stdin ends keep reading SECS seconds
  -w, --wait                   after stdin ends keep reading until the peer closes
      --recv-only              never send stdin; read until the peer closes
  -v, --verbose                print "connected NODE:PORT" on stderr`,
  ping: `Usage: scif ping NODE:PORT [options]

Sends payloads to an echo server (scif listen PORT --echo) and times each
round trip; ends with statistics as ping(8) prints them.
  -c, --count N                stop after N round trips (default: until interrupted)
  -i, --interval SECS          wait between round trips (default 1)
  -s, --size BYTES             payload size (default 56)
  -q, --quiet                  only the summary
Exit status: 0 every reply came back, 1 some were lost, 2 usage error.`,
  'send-file': `Usage: scif send-file NODE:PORT FILE

Sends FILE to a 'scif recv-file' on NODE:PORT. Both ends compute its SHA-256;
the receiver's is sent back and compared. A progress line is shown on stderr
when it is a terminal.
  -q, --quiet                  no progress line, no summary`,
  'recv-file': `Usage: scif recv-file PORT [-o FILE]

Listens on PORT, receives one file from 'scif send-file', writes it to FILE
(default: the sender's file name, in this directory) and prints its SHA-256.
  -o, --output FILE            where to write it ('-': stdout)
  -v, --verbose                print "listening NODE:PORT" on stderr
  -q, --quiet                  no progress line, no summary`,
};

class UsageError extends Error {}

function fail(message, code = 1) {
  process.stderr.write(`${PROG}: ${message}\n`);
  process.exit(code);
}

const { getSystemErrorMap } = require('node:util');
const STRERROR = new Map([...getSystemErrorMap().values()].map(([code, text]) => [code, text]));

/** "Connection refused (ECONNREFUSED)" for a system error, else the message. */
function describe(err) {
  if (!err) return 'unknown error';
  const text = typeof err.code === 'string' && STRERROR.get(err.code);
  if (text) return `${text[0].toUpperCase()}${text.slice(1)} (${err.code})`;
  return err.message;
}

function loadScif(values) {
  if (values.node !== undefined) {
    if (!/^\d+$/.test(values.node)) throw new UsageError(`bad node '${values.node}'`);
    process.env.SCIF_NODE = values.node;
  }
  return require(path.join(__dirname, '..'));
}

function parsePort(text) {
  if (text === undefined) throw new UsageError('missing PORT');
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new UsageError(`bad port '${text}'`);
  return Number(text);
}

function parseAddress(text) {
  if (text === undefined) throw new UsageError('missing NODE:PORT');
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m || Number(m[2]) > 65535 || Number(m[2]) === 0) throw new UsageError(`bad address '${text}' (want NODE:PORT)`);
  return { node: Number(m[1]), port: Number(m[2]) };
}

function parseNumber(text, what, { min = 0, integer = false } = {}) {
  const n = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new UsageError(`bad ${what} '${text}'`);
  }
  return n;
}

function parse(command, args, options, positionals) {
  const { values, positionals: pos } = parseArgs({
    args,
    options: { ...COMMON, ...options },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP[command] + '\n');
    process.exit(0);
  }
  if (pos.length > positionals) throw new UsageError(`unexpected argument '${pos[positionals]}'`);
  return { values, pos };
}

// ---- progress -------------------------------------------------------------

function human(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function rate(bytes, secs) {
  return secs > 0 ? `${(bytes / secs / 1e6).toFixed(1)} MB/s` : '-';
}

/** One line on stderr, redrawn at most 10 times a second, only on a terminal. */
function progress(label, total, quiet) {
  const start = process.hrtime.bigint();
  const live = !quiet && process.stderr.isTTY;
  let last = 0;
  const draw = (bytes) => {
    const secs = Number(process.hrtime.bigint() - start) / 1e9;
    const pct = total ? ` ${((100 * bytes) / total).toFixed(1).padStart(5)}%` : '';
    process.stderr.write(`\r${label}${pct}  ${human(bytes)}${total ? ` / ${human(total)}` : ''}  ${rate(bytes, secs)}\x1b[K`);
  };
  return {
    update(bytes) {
      if (!live) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      draw(bytes);
    },
    done(bytes) {
      if (live) { draw(bytes); process.stderr.write('\n'); }
      return Number(process.hrtime.bigint() - start) / 1e9;
    },
  };
}

// ---- commands -------------------------------------------------------------

function cmdNodes(args) {
  const { values } = parse('nodes', args, { json: { type: 'boolean' } }, 0);
  const scif = loadScif(values);
  const { self, nodes } = scif.getNodeIds();
  const { provider } = scif.platform();
  if (values.json) {
    process.stdout.write(JSON.stringify({ self, nodes, provider }) + '\n');
  } else {
    process.stdout.write(`self ${self}\nnodes ${nodes.join(' ')}\nprovider ${provider}\n`);
  }
}

/** Pipes a connected socket to stdin/stdout; resolves with an exit code when it closes. */
function pipeStdio(socket, { recvOnly, quitAfter }) {
  return new Promise((resolve) => {
    let failed = false;
    socket.pipe(process.stdout, { end: false });
    socket.on('error', (err) => {
      failed = true;
      process.stderr.write(`${PROG}: ${describe(err)}\n`);
    });
    socket.on('close', () => {
      process.stdin.unpipe(socket);
      process.stdin.pause();
      resolve(failed ? 1 : 0);
    });
    if (recvOnly) return;
    process.stdin.pipe(socket, { end: false });
    process.stdin.on('end', () => {
      // No half-close in SCIF: end() delivers what is queued, then closes.
      if (quitAfter < 0) return;
      if (quitAfter === 0) socket.end();
      else setTimeout(() => socket.end(), quitAfter * 1000).unref();
    });
  });
}

function cmdListen(args) {
  const { values, pos } = parse('listen', args, {
    exec: { type: 'string', short: 'e' },
    echo: { type: 'boolean' },
    'keep-open': { type: 'boolean', short: 'k' },
    'recv-only': { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
  }, 1);
  const port = parsePort(pos[0]);
  if (values.exec !== undefined && values.echo) throw new UsageError('--exec and --echo exclude each other');
  const scif = loadScif(values);
  const keep = !!values['keep-open'];
  const log = (s) => values.verbose && process.stderr.write(`${PROG}: ${s}\n`);
  let busy = false;
  const server = scif.createServer((socket) => {
    const peer = `${socket.remoteNode}:${socket.remotePort}`;
    if (!keep) server.close();
    log(`connection from ${peer}`);
    socket.on('close', () => log(`${peer} closed`));
    if (values.echo) {
      socket.on('error', (err) => log(`${peer}: ${describe(err)}`));
      socket.pipe(socket);
      return;
    }
    if (values.exec !== undefined) {
      const child = spawn('/bin/sh', ['-c', values.exec], { stdio: ['pipe', 'pipe', 'inherit'] });
      socket.pipe(child.stdin);
      child.stdin.on('error', () => {});
      child.stdout.pipe(socket);
      socket.on('error', (err) => { log(`${peer}: ${describe(err)}`); child.kill('SIGTERM'); });
      child.on('exit', (code, signal) => {
        if (!keep) process.exitCode = code ?? (signal ? 1 : 0);
      });
      return;
    }
    if (busy) { socket.destroy(); return; }
    busy = true;
    pipeStdio(socket, { recvOnly: values['recv-only'], quitAfter: 0 }).then((code) => {
      busy = false;
      if (!keep) process.exitCode = code;
    });
  });
  server.on('error', (err) => fail(`listen ${port}: ${describe(err)}`));
  server.listen(port, () => {
    const a = server.address();
    log(`listening ${a.node}:${a.port}`);
  });
  process.on('SIGTERM', () => process.exit(process.exitCode ?? 0));
}

function connectTo(scif, addr) {
  return new Promise((resolve, reject) => {
    const socket = scif.connect(addr, () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

async function cmdConnect(args) {
  const { values, pos } = parse('connect', args, {
    'quit-after': { type: 'string', short: 'q' },
    wait: { type: 'boolean', short: 'w' },
    'recv-only': { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
  }, 1);
  const addr = parseAddress(pos[0]);
  if (values.wait && values['quit-after'] !== undefined) throw new UsageError('--wait and --quit-after exclude each other');
  const quitAfter = values.wait ? -1 : values['quit-after'] === undefined ? 0 : parseNumber(values['quit-after'], 'seconds');
  const scif = loadScif(values);
  const socket = await connectTo(scif, addr).catch((err) => fail(`connect ${pos[0]}: ${describe(err)}`));
  if (values.verbose) process.stderr.write(`${PROG}: connected ${addr.node}:${addr.port}\n`);
  process.exitCode = await pipeStdio(socket, { recvOnly: values['recv-only'], quitAfter });
}

async function cmdPing(args) {
  const { values, pos } = parse('ping', args, {
    count: { type: 'string', short: 'c' },
    interval: { type: 'string', short: 'i' },
    size: { type: 'string', short: 's' },
    quiet: { type: 'boolean', short: 'q' },
  }, 1);
  const addr = parseAddress(pos[0]);
  const count = values.count === undefined ? Infinity : parseNumber(values.count, 'count', { min: 1, integer: true });
  const interval = values.interval === undefined ? 1 : parseNumber(values.interval, 'interval');
  const size = values.size === undefined ? 56 : parseNumber(values.size, 'size', { min: 1, integer: true });
  const scif = loadScif(values);
  const name = `${addr.node}:${addr.port}`;
  const socket = await connectTo(scif, addr).catch((err) => fail(`ping ${name}: ${describe(err)}`, 2));
  console.log(`PING ${name}: ${size} data bytes`);
  const rtts = [];
  let sent = 0;
  let stop = false;
  const started = Date.now();
  process.once('SIGINT', () => { stop = true; });
  const payload = Buffer.alloc(size, 0x5a);
  let pending = null;
  let got = 0;
  socket.on('data', (chunk) => {
    got += chunk.length;
    if (pending && got >= size) { got -= size; const p = pending; pending = null; p.resolve(); }
  });
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.on('error', (err) => process.stderr.write(`${PROG}: ${name}: ${describe(err)}\n`));
  closed.then(() => { stop = true; if (pending) pending.reject(new Error('connection closed')); });
  while (!stop && sent < count) {
    const seq = sent++;
    const t0 = process.hrtime.bigint();
    const reply = new Promise((resolve, reject) => { pending = { resolve, reject }; });
    socket.write(payload);
    try {
      await reply;
    } catch {
      break;
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    rtts.push(ms);
    if (!values.quiet) console.log(`${size} bytes from ${name}: seq=${seq} time=${ms.toFixed(3)} ms`);
    if (sent < count && !stop && interval > 0) await new Promise((r) => setTimeout(r, interval * 1000));
  }
  const elapsed = Date.now() - started;
  socket.destroy();
  const received = rtts.length;
  const loss = sent ? (100 * (sent - received)) / sent : 0;
  console.log(`\n--- ${name} scif ping statistics ---`);
  console.log(`${sent} packets transmitted, ${received} received, ${+loss.toFixed(1)}% packet loss, time ${elapsed}ms`);
  if (received) {
    const min = Math.min(...rtts);
    const max = Math.max(...rtts);
    const avg = rtts.reduce((a, b) => a + b, 0) / received;
    const mdev = Math.sqrt(rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / received);
    console.log(`rtt min/avg/max/mdev = ${[min, avg, max, mdev].map((x) => x.toFixed(3)).join('/')} ms`);
  }
  process.exit(received === sent && received > 0 ? 0 : 1);
}

// send-file protocol: "SCIFFILE 1\n", a JSON line { name, size }, the bytes;
// the receiver answers with its SHA-256 (64 hex digits and "\n") and closes.
const MAGIC = 'SCIFFILE 1\n';

async function cmdSendFile(args) {
  const { values, pos } = parse('send-file', args, { quiet: { type: 'boolean', short: 'q' } }, 2);
  const addr = parseAddress(pos[0]);
  const file = pos[1];
  if (file === undefined) throw new UsageError('missing FILE');
  let size;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) fail(`${file}: not a regular file`);
    size = st.size;
  } catch (err) {
    fail(`${file}: ${describe(err)}`);
  }
  const scif = loadScif(values);
  const socket = await connectTo(scif, addr).catch((err) => fail(`connect ${pos[0]}: ${describe(err)}`));
  const hash = crypto.createHash('sha256');
  const bar = progress(`send ${path.basename(file)}`, size, values.quiet);
  let answer = '';
  socket.setEncoding('utf8');
  socket.on('data', (t) => { answer += t; });
  socket.on('error', (err) => fail(`send ${file}: ${describe(err)}`));
  socket.write(MAGIC + JSON.stringify({ name: path.basename(file), size }) + '\n');
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  let bytes = 0;
  input.on('data', (chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
    bar.update(bytes);
  });
  input.on('error', (err) => fail(`${file}: ${describe(err)}`));
  input.pipe(socket, { end: false });
  await new Promise((resolve) => input.on('end', resolve));
  const secs = bar.done(bytes);
  const mine = hash.digest('hex');
  await new Promise((resolve) => socket.on('close', resolve));
  const theirs = answer.trim();
  if (bytes !== size) fail(`${file}: changed while sending (${bytes} of ${size} bytes)`);
  if (theirs !== mine) fail(`${file}: SHA-256 mismatch (sent ${mine}, received ${theirs || 'nothing'})`);
  if (!values.quiet) process.stderr.write(`${PROG}: sent ${bytes} bytes in ${secs.toFixed(2)} s (${rate(bytes, secs)})\n`);
  process.stdout.write(`${mine}  ${file}\n`);
}

function cmdRecvFile(args) {
  const { values, pos } = parse('recv-file', args, {
    output: { type: 'string', short: 'o' },
    verbose: { type: 'boolean', short: 'v' },
    quiet: { type: 'boolean', short: 'q' },
  }, 1);
  const port = parsePort(pos[0]);
  const scif = loadScif(values);
  const server = scif.createServer((socket) => {
    server.close();
    if (values.verbose) process.stderr.write(`${PROG}: connection from ${socket.remoteNode}:${socket.remotePort}\n`);
    let head = Buffer.alloc(0);
    let out = null;
    let outName = '';
    let size = 0;
    let bytes = 0;
    let bar = null;
    const hash = crypto.createHash('sha256');
    socket.on('error', (err) => fail(`recv: ${describe(err)}`));
    const finish = () => {
      const digest = hash.digest('hex');
      socket.end(digest + '\n');
      const secs = bar.done(bytes);
      const done = () => {
        if (!values.quiet) process.stderr.write(`${PROG}: received ${bytes} bytes in ${secs.toFixed(2)} s (${rate(bytes, secs)})\n`);
        (outName === '-' ? process.stderr : process.stdout).write(`${digest}  ${outName}\n`);
      };
      if (out === process.stdout) done();
      else out.end(done);
    };
    const take = (chunk) => {
      const part = chunk.subarray(0, size - bytes);
      if (part.length) {
        hash.update(part);
        bytes += part.length;
        if (!out.write(part)) { socket.pause(); out.once('drain', () => socket.resume()); }
        bar.update(bytes);
      }
      if (bytes === size) { socket.removeAllListeners('data'); socket.removeAllListeners('end'); finish(); }
    };
    socket.on('data', (chunk) => {
      if (out) return take(chunk);
      head = Buffer.concat([head, chunk]);
      if (head.length < MAGIC.length) return;
      if (head.subarray(0, MAGIC.length).toString() !== MAGIC) fail('recv: the peer is not scif send-file');
      const nl = head.indexOf(10, MAGIC.length);
      if (nl < 0) { if (head.length > 65536) fail('recv: bad header'); return; }
      let meta;
      try { meta = JSON.parse(head.subarray(MAGIC.length, nl).toString()); } catch { fail('recv: bad header'); }
      size = Number(meta.size);
      outName = values.output ?? path.basename(String(meta.name || 'scif-file'));
      if (outName === '-') out = process.stdout;
      else {
        out = fs.createWriteStream(outName);
        out.on('error', (err) => fail(`${outName}: ${describe(err)}`));
      }
      bar = progress(`recv ${outName}`, size, values.quiet);
      const rest = head.subarray(nl + 1);
      head = null;
      take(rest);
    });
    socket.on('end', () => {
      if (!out || bytes < size) fail(`recv: connection closed after ${bytes} of ${size} bytes`);
    });
  });
  server.on('error', (err) => fail(`listen ${port}: ${describe(err)}`));
  server.listen(port, () => {
    const a = server.address();
    if (values.verbose) process.stderr.write(`${PROG}: listening ${a.node}:${a.port}\n`);
  });
}

const COMMANDS = {
  nodes: cmdNodes,
  listen: cmdListen,
  connect: cmdConnect,
  ping: cmdPing,
  'send-file': cmdSendFile,
  'recv-file': cmdRecvFile,
};

async function main(argv) {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('missing COMMAND');
  if (command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(HELP.main + '\n');
    return;
  }
  if (command === '--version' || command === '-V') {
    process.stdout.write(require('../package.json').version + '\n');
    return;
  }
  const fn = COMMANDS[command];
  if (!fn) throw new UsageError(`unknown command '${command}'`);
  try {
    await fn(rest);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (err && typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS')) throw new UsageError(err.message);
    if (err && err.code === 'ERR_SCIF_CONFIG') fail(err.message);
    throw err;
  }
}

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof UsageError) {
    process.stderr.write(`${PROG}: ${err.message}\nTry '${PROG} --help' for more information.\n`);
    process.exit(2);
  }
  fail(describe(err));
});
