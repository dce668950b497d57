// net parity: each script runs on net (TCP on 127.0.0.1) and on scif, and
// records what a program can observe (events and their arguments, error
// codes, return values, final state); the two records must be equal. These
// are the behaviours of Node's own test/parallel/test-net-* tests that a byte
// stream without half-close can have. Host: the user provider; guest: the
// kernel provider.
import * as events from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bound, killFixtures, scif, within } from './helpers';

afterEach(killFixtures);

/* eslint-disable @typescript-eslint/no-explicit-any */
type AnyServer = any;
type AnySocket = any;

interface Transport {
  name: string;
  /** The module: net, or scif. */
  mod: any;
  /** Listens on a free port (net: 127.0.0.1). */
  listen(server: AnyServer, extra?: object): AnyServer;
  /** connect() options for a listening server. */
  addr(server: AnyServer): object;
}

const NET: Transport = {
  name: 'net',
  mod: net,
  listen: (server, extra = {}) => server.listen({ port: 0, host: '127.0.0.1', ...extra }),
  addr: (server) => ({ host: '127.0.0.1', port: server.address().port }),
};

const SCIF: Transport = {
  name: 'scif',
  mod: scif,
  listen: (server, extra = {}) => server.listen({ port: 0, ...extra }),
  addr: (server) => ({ node: server.address().node, port: server.address().port }),
};

function wait(emitter: NodeJS.EventEmitter, event: string, ms = bound(30_000)): Promise<unknown[]> {
  return within(
    new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args))),
    ms,
    `'${event}'`,
  );
}

const tick = () => new Promise((r) => setImmediate(r));

function errInfo(err: unknown): string {
  if (!err) return String(err);
  const e = err as NodeJS.ErrnoException;
  return `${e.name}:${e.code}`;
}

function attempt(fn: () => unknown): string {
  try {
    const r = fn();
    return r === undefined ? 'ok' : `ok:${typeof r}`;
  } catch (err) {
    return `throws:${errInfo(err)}`;
  }
}

const SOCKET_EVENTS = ['connect', 'ready', 'end', 'finish', 'close', 'error', 'timeout'];

function record(socket: AnySocket, log: string[], prefix = ''): void {
  for (const event of SOCKET_EVENTS) {
    socket.on(event, (arg: unknown) => {
      if (event === 'error') log.push(`${prefix}error:${errInfo(arg)}`);
      else if (event === 'close') log.push(`${prefix}close:${arg}`);
      else log.push(`${prefix}${event}`);
    });
  }
}

async function listening(T: Transport, onConnection?: (s: AnySocket) => void): Promise<AnyServer> {
  const server = T.mod.createServer(onConnection);
  T.listen(server);
  await wait(server, 'listening');
  return server;
}

async function closeServer(server: AnyServer): Promise<void> {
  if (!server.listening) return;
  const done = wait(server, 'close');
  server.close();
  await done;
}

type Script = (T: Transport) => Promise<unknown>;

const scripts: Record<string, Script> = {
  // 1. Constructors callable without new; Stream is Socket.
  async 'callable constructors and the Stream alias'(T) {
    const out: Record<string, unknown> = {};
    out.streamIsSocket = T.mod.Stream === T.mod.Socket;
    const bare = T.mod.Socket();
    out.bareIsSocket = bare instanceof T.mod.Socket && bare instanceof T.mod.Stream;
    const withOpts = T.mod.Socket({});
    out.withOptsIsSocket = withOpts instanceof T.mod.Socket;
    const accepted: string[] = [];
    const server = T.mod.Server((s: AnySocket) => {
      accepted.push(`connection:${s instanceof T.mod.Socket}`);
      s.destroy();
    });
    out.serverIsServer = server instanceof T.mod.Server;
    T.listen(server);
    await wait(server, 'listening');
    const c = T.mod.connect(T.addr(server));
    c.on('error', () => {});
    await wait(c, 'close');
    out.accepted = accepted;
    await closeServer(server);
    return out;
  },

  // 2. connect() again from 'close' reuses the socket.
  async 'reconnect a closed socket from its close event'(T) {
    let connections = 0;
    const server = await listening(T, (s) => {
      connections++;
      s.end(`hello ${connections}`);
    });
    const log: string[] = [];
    const c = new T.mod.Socket();
    record(c, log);
    c.on('data', (d: Buffer) => log.push(`data:${d}`));
    let rounds = 0;
    const done = new Promise<void>((resolve) => {
      c.on('close', () => {
        log.push(`pending:${c.pending} destroyed:${c.destroyed} bytesRead:${c.bytesRead} bytesWritten:${c.bytesWritten}`);
        if (++rounds < 2) c.connect(T.addr(server));
        else resolve();
      });
    });
    c.connect(T.addr(server));
    await within(done, bound(10_000), 'two rounds').catch((err: Error) => {
      throw new Error(`${T.name}: ${err.message}: ${JSON.stringify(log)}`);
    });
    await closeServer(server);
    return { log, connections, ended: c.destroyed };
  },

  // 3a. bufferSize, _connecting, remotePort/remoteNode while connecting.
  async 'bufferSize, _connecting and the remote address while connecting'(T) {
    const server = await listening(T, (s) => s.on('data', () => {}));
    const c = new T.mod.Socket();
    const out: Record<string, unknown> = {};
    out.fresh = [c.bufferSize, c._connecting, c.pending, c.remotePort];
    c.connect(T.addr(server));
    c.write('hello');
    out.connecting = [c.bufferSize, c._connecting, c.pending, c.remotePort, (c as any).remoteNode];
    await wait(c, 'connect');
    out.connected = [c._connecting, c.pending, typeof c.remotePort];
    await tick();
    out.flushed = c.bufferSize;
    c.destroy();
    await wait(c, 'close');
    out.closed = [c.bufferSize, c.pending, c._connecting];
    await closeServer(server);
    return out;
  },

  // 3b. server[Symbol.asyncDispose].
  async 'server[Symbol.asyncDispose] closes it'(T) {
    const server = await listening(T);
    const log: string[] = [];
    server.on('close', () => log.push('close'));
    const r = await server[Symbol.asyncDispose]();
    log.push(`listening:${server.listening} result:${r}`);
    const again = await server[Symbol.asyncDispose]();
    await tick();
    log.push(`again:${again}`);
    return log;
  },

  // 3c. captureRejections: a rejected async 'connection' listener destroys that socket.
  async "captureRejections: a rejected 'connection' listener destroys the socket"(T) {
    const EE = events.EventEmitter as unknown as { captureRejections: boolean };
    const saved = EE.captureRejections;
    EE.captureRejections = true;
    const log: string[] = [];
    try {
      const server = T.mod.createServer();
      EE.captureRejections = saved;
      server.on('error', (e: Error) => log.push(`server:error:${e.message}`));
      server.on('connection', async (s: AnySocket) => {
        record(s, log, 'sock:');
        throw new Error('kaboom');
      });
      T.listen(server);
      await wait(server, 'listening');
      const c = T.mod.connect(T.addr(server));
      record(c, log, 'client:');
      c.resume();
      await wait(c, 'close');
      await closeServer(server);
    } finally {
      EE.captureRejections = saved;
    }
    return log.filter((e) => !e.startsWith('client:connect') && !e.startsWith('client:ready'));
  },

  // 3d. listen({ signal }).
  async 'listen({ signal }): validated, and an abort closes the server'(T) {
    const log: string[] = [];
    const bad = T.mod.createServer();
    log.push(attempt(() => T.listen(bad, { signal: 'nope' })));
    const ac = new AbortController();
    const server = T.mod.createServer();
    server.on('listening', () => log.push('listening'));
    server.on('close', () => log.push('close'));
    T.listen(server, { signal: ac.signal });
    await wait(server, 'listening');
    ac.abort();
    await wait(server, 'close');
    log.push(`listening:${server.listening}`);
    const pre = new AbortController();
    pre.abort();
    const early = T.mod.createServer();
    early.on('listening', () => log.push('early:listening'));
    early.on('close', () => log.push('early:close'));
    T.listen(early, { signal: pre.signal });
    await wait(early, 'close');
    await tick();
    log.push(`early:listening:${early.listening}`);
    return log;
  },

  // 3e. connect({ onread }): reads land in the caller's buffer.
  async 'connect({ onread }): a reused buffer, pause by returning false, resume'(T) {
    const payload = Buffer.alloc(200_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const server = await listening(T, (s) => s.end(payload));
    const buffer = Buffer.alloc(4096);
    const got: Buffer[] = [];
    let calls = 0;
    let sameBuffer = true;
    let paused = 0;
    const log: string[] = [];
    const c = T.mod.connect({
      ...T.addr(server),
      onread: {
        buffer,
        callback(n: number, buf: Buffer) {
          calls++;
          if (buf !== buffer) sameBuffer = false;
          got.push(Buffer.from(buf.subarray(0, n)));
          if (calls === 3) {
            paused++;
            setTimeout(() => c.resume(), 20);
            return false;
          }
          return undefined;
        },
      },
    });
    record(c, log);
    c.on('data', () => log.push('data'));
    await wait(c, 'close');
    await closeServer(server);
    // A buffer from a function, called for each read.
    const server2 = await listening(T, (s) => s.end('abc'));
    let made = 0;
    const text: string[] = [];
    const c2 = T.mod.connect({
      ...T.addr(server2),
      onread: {
        buffer: () => {
          made++;
          return Buffer.alloc(16);
        },
        callback: (n: number, buf: Buffer) => {
          text.push(String(buf.subarray(0, n)));
        },
      },
    });
    await wait(c2, 'close');
    await closeServer(server2);
    return {
      log,
      sameBuffer,
      paused,
      callsMoreThanOnce: calls > 3,
      intact: Buffer.concat(got).equals(payload),
      bytesRead: c.bytesRead,
      fnCalled: made > 0,
      text: text.join(''),
    };
  },

  // 4. Argument checks and codes.
  async "argument checks and codes as net's"(T) {
    const out: Record<string, string> = {};
    out.connectNoArgs = attempt(() => T.mod.connect());
    out.socketConnectNoPort = attempt(() => new T.mod.Socket().connect({}));
    for (const mode of ['objectMode', 'readableObjectMode', 'writableObjectMode']) {
      out[mode] = attempt(() => new T.mod.Socket({ [mode]: true }));
    }
    const server = await listening(T, (s) => s.on('data', () => {}));
    const c = T.mod.connect(T.addr(server));
    await wait(c, 'connect');
    out.setTimeoutFraction = attempt(() => c.setTimeout(0.001));
    out.timeoutValue = String(c.timeout);
    out.setTimeoutNegative = attempt(() => c.setTimeout(-1));
    out.setTimeoutString = attempt(() => c.setTimeout('1'));
    out.setTimeoutInfinity = attempt(() => c.setTimeout(Infinity));
    out.setTimeoutZero = attempt(() => c.setTimeout(0));
    out.writeBufferEncoding = attempt(() => c.write('x', 'buffer'));
    out.writeNumber = attempt(() => c.write(1337));
    out.writeNull = attempt(() => c.write(null));
    c.on('error', () => {});
    c.destroy();
    await wait(c, 'close');
    const closed: string[] = [];
    server.on('close', () => closed.push('close'));
    out.closeNonFunction = attempt(() => server.close('not a function'));
    await wait(server, 'close');
    out.afterClose = `${server.listening} ${closed.join(',')}`;
    // close() on a server that is not running: 'close', and the callback gets ERR_SERVER_NOT_RUNNING.
    const idle = T.mod.createServer();
    const idleLog: string[] = [];
    idle.on('close', () => idleLog.push('close'));
    idle.close((err: Error) => idleLog.push(`callback:${errInfo(err)}`));
    await wait(idle, 'close');
    await tick();
    out.idleClose = idleLog.join(',');
    return out;
  },

  // 5a. A write queued while connecting, then destroy().
  async 'a write queued while connecting fails with ERR_SOCKET_CLOSED_BEFORE_CONNECTION'(T) {
    const server = await listening(T);
    const log: string[] = [];
    const c = T.mod.connect(T.addr(server));
    record(c, log);
    c.write('hello', (err: Error) => log.push(`write-callback:${errInfo(err)}`));
    c.destroy();
    await wait(c, 'close');
    await tick();
    await closeServer(server);
    return log;
  },

  // 5b. resetAndDestroy() on a socket that never connected; an aborted signal.
  async 'resetAndDestroy() before connecting, and an already-aborted signal'(T) {
    const log: string[] = [];
    const a = new T.mod.Socket();
    record(a, log, 'reset:');
    a.resetAndDestroy();
    await wait(a, 'close');
    const ac = new AbortController();
    ac.abort();
    const b = new T.mod.Socket({ signal: ac.signal });
    record(b, log, 'signal:');
    log.push(`signal:destroyed:${b.destroyed}`);
    await wait(b, 'close');
    const ac2 = new AbortController();
    const server = await listening(T);
    const c = T.mod.connect({ ...T.addr(server), signal: ac2.signal });
    record(c, log, 'later:');
    await wait(c, 'connect');
    ac2.abort();
    await wait(c, 'close');
    await closeServer(server);
    return log;
  },

  // 6. Getters read on the prototype.
  async 'prototype getters read without throwing'(T) {
    const proto = T.mod.Socket.prototype;
    const out: Record<string, string> = {};
    for (const name of ['bytesWritten', 'bytesRead', 'pending', 'readyState', 'bufferSize', '_connecting', 'connecting', 'localPort', 'remotePort', 'timeout']) {
      try {
        out[name] = String(proto[name]);
      } catch (err) {
        out[name] = `throws:${errInfo(err)}`;
      }
    }
    return out;
  },

  // 7. A connect completes when the server accepts: listen, connect, close at once.
  async "connect completes at accept: a server closed at once refuses, and 'connect' is never synchronous"(T) {
    const log: string[] = [];
    const server = await listening(T, () => log.push('server:connection'));
    const c = T.mod.connect(T.addr(server));
    let returned = false;
    record(c, log);
    c.on('connect', () => log.push(`connect-after-return:${returned}`));
    returned = true;
    server.close();
    await wait(c, 'close');
    await tick();
    // And a server that accepts: 'connect' comes asynchronously, after the return.
    const server2 = await listening(T, (s) => s.destroy());
    let back = false;
    const c2 = T.mod.connect(T.addr(server2));
    c2.on('connect', () => log.push(`c2:connect-after-return:${back}`));
    c2.on('error', () => {});
    back = true;
    await wait(c2, 'close');
    await closeServer(server2);
    return log;
  },

  // 9. pending after close; net's internal 'end' listener.
  async "pending after close, and the internal 'end' listener"(T) {
    const out: Record<string, unknown> = {};
    out.freshEndListeners = new T.mod.Socket().listenerCount('end');
    const server = await listening(T, (s) => s.end('bye'));
    const c = T.mod.connect(T.addr(server));
    out.connectingEndListeners = c.listenerCount('end');
    out.pendingConnecting = c.pending;
    await wait(c, 'connect');
    out.pendingConnected = c.pending;
    c.resume();
    await wait(c, 'close');
    out.pendingClosed = c.pending;
    out.readyStateClosed = c.readyState;
    await closeServer(server);
    return out;
  },
};

describe('net parity: the same script on net and on scif', () => {
  for (const [name, script] of Object.entries(scripts)) {
    it(name, async () => {
      const expected = await script(NET);
      const actual = await script(SCIF);
      expect(actual).toEqual(expected);
    });
  }
});
