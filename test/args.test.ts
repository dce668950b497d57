// Bad arguments throw TypeError/RangeError with Node's ERR_* codes,
// synchronously, before anything reaches native code: no endpoint is
// created and no fd is opened.
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fdCount, listen, once, ROOT, scif } from './helpers';

const require = createRequire(import.meta.url);
// The addon as the package loaded it: count endpoint constructions.
const binding = (require(path.join(ROOT, 'dist', 'binding.js')) as typeof import('../lib/binding')).binding;
const NativeEndpoint = binding.Endpoint;
let endpointsCreated = 0;

beforeAll(() => {
  binding.Endpoint = new Proxy(NativeEndpoint, {
    construct(target, args) {
      endpointsCreated++;
      return Reflect.construct(target, args);
    },
  });
});
afterAll(() => {
  binding.Endpoint = NativeEndpoint;
});

type Case = [string, () => unknown, ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, string];

function cases(server: import('./helpers').Server, socket: import('./helpers').Socket): Case[] {
  return [
    // connect()
    ['connect(null)', () => scif.connect(null as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    // connect(port[, node]): a string is a port, as net's { port: '80' }.
    ["connect('x')", () => scif.connect('x' as never), RangeError, 'ERR_SOCKET_BAD_PORT'],
    ['connect(true)', () => scif.connect(true as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["node: '0'", () => scif.connect({ node: '0' as never, port: 2000 }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['node missing', () => scif.connect({ port: 2000 } as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['node: -1', () => scif.connect({ node: -1, port: 2000 }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['node: 1.5', () => scif.connect({ node: 1.5, port: 2000 }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['node: NaN', () => scif.connect({ node: NaN, port: 2000 }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['node: 129', () => scif.connect({ node: 129, port: 2000 }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['port: 0', () => scif.connect({ node: 0, port: 0 }), RangeError, 'ERR_SOCKET_BAD_PORT'],
    ['port: 65536', () => scif.connect({ node: 0, port: 65536 }), RangeError, 'ERR_SOCKET_BAD_PORT'],
    ['port: -1', () => scif.connect({ node: 0, port: -1 }), RangeError, 'ERR_SOCKET_BAD_PORT'],
    ['port: 1.5', () => scif.connect({ node: 0, port: 1.5 }), RangeError, 'ERR_SOCKET_BAD_PORT'],
    ["port: 'abc'", () => scif.connect({ node: 0, port: 'abc' as never }), RangeError, 'ERR_SOCKET_BAD_PORT'],
    ['port: {}', () => scif.connect({ node: 0, port: {} as never }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['port missing', () => scif.connect({ node: 0 } as never), Error, 'ERR_MISSING_ARGS'],
    ['no arguments', () => (scif.connect as () => void)(), Error, 'ERR_MISSING_ARGS'],
    ['connect listener not a function', () => scif.connect({ node: 0, port: 2000 }, 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['connect timeout: -1', () => scif.connect({ node: 0, port: 2000, timeout: -1 }), RangeError, 'ERR_OUT_OF_RANGE'],
    ['connect allowHalfOpen: true', () => scif.connect({ node: 0, port: 2000, allowHalfOpen: true as never }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['new Socket({ allowHalfOpen: true })', () => new scif.Socket({ allowHalfOpen: true as never }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ["new Socket('x')", () => new scif.Socket('x' as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['socket.connect(node: -1)', () => new scif.Socket().connect({ node: -1, port: 2000 }), RangeError, 'ERR_OUT_OF_RANGE'],
    // createServer() and listen()
    ['createServer({ allowHalfOpen: true })', () => scif.createServer({ allowHalfOpen: true as never }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ["createServer('x')", () => scif.createServer('x' as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["createServer({}, 'x')", () => scif.createServer({}, 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['listen(65536)', () => scif.createServer().listen(65536), RangeError, 'ERR_SOCKET_BAD_PORT'],
    ['listen(-1)', () => scif.createServer().listen(-1), RangeError, 'ERR_SOCKET_BAD_PORT'],
    ['listen(1.5)', () => scif.createServer().listen(1.5), RangeError, 'ERR_SOCKET_BAD_PORT'],
    ['listen({ port: 70000 })', () => scif.createServer().listen({ port: 70000 }), RangeError, 'ERR_SOCKET_BAD_PORT'],
    ['listen({ port: true })', () => scif.createServer().listen({ port: true as never }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['listen(0, backlog 0)', () => scif.createServer().listen(0, 0), RangeError, 'ERR_OUT_OF_RANGE'],
    ["listen(0, backlog 'x')", () => scif.createServer().listen(0, 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["listen(0, 5, 'x')", () => scif.createServer().listen(0, 5, 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    // Methods of a live server and socket
    // (server.close('x') closes and ignores 'x', as net's: net-parity.test.ts.)
    ['server.getConnections()', () => server.getConnections(undefined as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['socket.setTimeout(-1)', () => socket.setTimeout(-1), RangeError, 'ERR_OUT_OF_RANGE'],
    ["socket.setTimeout('x')", () => socket.setTimeout('x' as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ["socket.setTimeout(10, 'x')", () => socket.setTimeout(10, 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['socket.setTimeout(Infinity)', () => socket.setTimeout(Infinity), RangeError, 'ERR_OUT_OF_RANGE'],
    ['socket.connect() again', () => socket.connect({ node: 0, port: 2000 }), Error, 'ERR_SOCKET_CONNECTION_ALREADY_ESTABLISHED'],
    ['server.listen() again', () => server.listen(0), Error, 'ERR_SERVER_ALREADY_LISTEN'],
  ];
}

describe('argument validation', () => {
  it('throws synchronously with ERR_* codes and opens nothing', async () => {
    // A live server and connected socket for the method cases.
    const server = scif.createServer();
    const address = await listen(server);
    // Listen for both first: either may come first (the kernel provider
    // completes a connect only once the listener has accepted it).
    const accepting = once<[import('./helpers').Socket]>(server, 'connection');
    const socket = scif.connect(address);
    await once(socket, 'connect');
    const [accepted] = await accepting;

    const fds = fdCount();
    const created = endpointsCreated;
    const failures: string[] = [];
    for (const [name, fn, type, code] of cases(server, socket)) {
      let thrown: unknown;
      try {
        fn();
      } catch (err) {
        thrown = err;
      }
      const e = thrown as NodeJS.ErrnoException | undefined;
      if (!(e instanceof type) || e.code !== code) {
        failures.push(`${name}: expected ${type.name} ${code}, got ${e ? `${e.constructor.name} ${e.code}: ${e.message}` : 'no throw'}`);
      } else if (!e.message || (code.startsWith('ERR_') && !String(e.stack).includes(`[${code}]`))) {
        failures.push(`${name}: message/stack should name ${code}: ${e.stack}`);
      }
    }
    expect(failures).toEqual([]);
    expect(endpointsCreated).toBe(created);
    expect(fdCount()).toBe(fds);

    // Nothing was left half-done: the live socket and server still work.
    expect(server.listening).toBe(true);
    socket.write('ok');
    const [data] = await once<[Buffer]>(accepted, 'data');
    expect(String(data)).toBe('ok');
    socket.destroy();
    accepted.destroy();
    server.close();
    await once(server, 'close');
  });

  it('an invalid SCIF_NODE, SCIF_PROVIDER, SCIF_BUSY_POLL_US, SCIF_SEGMENTS or SCIF_LANE is a clear error, not a silent default', () => {
    const saved = { ...process.env };
    try {
      for (const [k, v] of [
        ['SCIF_NODE', 'x'],
        ['SCIF_NODE', '-1'],
        ['SCIF_PROVIDER', 'bogus'],
        ['SCIF_BUSY_POLL_US', '-5'],
        ['SCIF_BUSY_POLL_US', '50us'],
        ['SCIF_BUSY_POLL_US', '1000001'],
        ['SCIF_SEGMENTS', 'yes'],
        ['SCIF_LANE', 'on'],
      ]) {
        process.env = { ...saved, [k]: v };
        const created = endpointsCreated;
        expect(() => scif.connect({ node: 0, port: 2000 }), `${k}=${v}`).toThrow(expect.objectContaining({ code: 'ERR_SCIF_CONFIG' }));
        expect(endpointsCreated).toBe(created);
      }
    } finally {
      process.env = saved;
    }
  });

  it('SCIF_PROVIDER=kernel without the device is a clear error, not a fallback to the user provider', () => {
    const saved = { ...process.env };
    try {
      // No platform here has a /dev/scif100 (the guest loads scif.ko with nodes=2).
      process.env = { ...saved, SCIF_PROVIDER: 'kernel', SCIF_NODE: '100' };
      const created = endpointsCreated;
      expect(() => scif.connect({ node: 0, port: 2000 })).toThrow(
        expect.objectContaining({ code: 'ERR_SCIF_NO_DEVICE', message: expect.stringContaining('/dev/scif100') }),
      );
      expect(() => scif.createServer().listen(0)).toThrow(expect.objectContaining({ code: 'ERR_SCIF_NO_DEVICE' }));
      expect(() => scif.getNodeIds()).toThrow(expect.objectContaining({ code: 'ERR_SCIF_NO_DEVICE' }));
      expect(endpointsCreated).toBe(created);
    } finally {
      process.env = saved;
    }
  });

  it('the documented error for allowHalfOpen names the reason', () => {
    expect(() => scif.createServer({ allowHalfOpen: true as never })).toThrow(/half-close/);
    expect(() => scif.connect({ node: 0, port: 2000, allowHalfOpen: true as never })).toThrow(/half-close/);
  });
});
