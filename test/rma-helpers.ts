// Helpers for the RMA conformance tests (test/rma-*.test.ts): a connected
// pair in this process, error assertions, deterministic data, and a client
// for test/fixtures/rma-peer.js, the RMA peer that runs in another process.
import { expect } from 'vitest';
import { bound, fixture, GUEST, listen, once, scif, within, type Fixture, type Server, type Socket } from './helpers';

export { bound, GUEST, scif };
export type { Socket, Server, Fixture };

/** The window granule. */
export const PAGE: number = scif.PAGE_SIZE;

/** 'user' or 'kernel': only for the documented provider differences. */
export const PROVIDER: string = scif.platform().provider;

/** A connected pair of sockets in this process (node 0 to node 0). */
export interface Pair {
  /** The accepted side. */
  a: Socket;
  /** The connecting side. */
  b: Socket;
  /** Destroys both sockets and waits for their 'close'. */
  close(): Promise<void>;
}

export async function pair(): Promise<Pair> {
  const server: Server = scif.createServer();
  const address = await listen(server);
  const accepting = once<[Socket]>(server, 'connection');
  const b = scif.connect({ node: address.node, port: address.port });
  await once(b, 'connect');
  const [a] = await accepting;
  // A server's 'close' waits for its connections (as net's): close it now,
  // wait for it in close().
  const serverClosed = once(server, 'close');
  server.close();
  return {
    a,
    b,
    async close() {
      const closed = [a, b].filter((s) => !s.destroyed).map((s) => once(s, 'close'));
      a.destroy();
      b.destroy();
      await Promise.all(closed);
      await serverClosed;
    },
  };
}

/** Resolves with the error `p` rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  let value: unknown;
  try {
    value = await p;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error(`expected a rejection, got a resolution (${String(value)})`);
}

/** Expects `p` to reject with `code` (and `syscall` if given). */
export async function expectCode(p: Promise<unknown>, code: string, syscall?: string): Promise<void> {
  const err = await rejection(p);
  expect(err.code, `${err.message}`).toBe(code);
  if (syscall !== undefined) expect(err.syscall).toBe(syscall);
}

/** Expects `fn` to throw synchronously with `code` and the error class `cls`. */
export function expectThrow(fn: () => unknown, code: string, cls: ErrorConstructor = TypeError): void {
  let thrown: unknown;
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    thrown = err;
  }
  if (result instanceof Promise) result.catch(() => undefined);
  expect(thrown, 'expected a synchronous throw').toBeInstanceOf(cls);
  expect((thrown as NodeJS.ErrnoException).code).toBe(code);
}

/** Deterministic bytes: `len` of stream `seed` (xorshift32). */
export function pattern(seed: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  let x = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Index of the first differing byte, or -1. */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/**
 * Page-aligned memory that does NOT come from scif.alloc (a WebAssembly
 * memory: V8 maps it with mmap, so it starts on a page boundary).
 */
export function plainPages(pages: number): Buffer {
  const wasmPages = Math.ceil((pages * PAGE) / 65536);
  const mem = new WebAssembly.Memory({ initial: wasmPages, maximum: wasmPages });
  return Buffer.from(mem.buffer, 0, pages * PAGE);
}

/** Polls `pred` (every few ms) until it holds; rejects after `ms`. */
export async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

// --- The RMA peer in another process --------------------------------------

/** An error reported by the peer process, shaped like the local one. */
export class PeerError extends Error {
  code: string;
  syscall?: string;
  constructor(e: { code: string; syscall?: string; message: string; name: string }) {
    super(`peer: ${e.name}: ${e.message}`);
    this.code = e.code;
    this.syscall = e.syscall;
  }
}

/** JSON-line RPC to test/fixtures/rma-peer.js (see its header for the ops). */
export interface Peer {
  fix: Fixture;
  call<T = any>(op: string, args?: Record<string, unknown>, ms?: number): Promise<T>;
  /** The next event message `{ event: name, ... }`. */
  event<T = any>(name: string, ms?: number): Promise<T>;
  /** Asks the peer to exit and waits for it. */
  exit(): Promise<void>;
}

/** Starts the RMA peer (`name`: rma-peer.js, or rma-zombie.js for one that is never reaped). */
export function startPeer(env: Record<string, string> = {}, name = 'rma-peer.js'): Peer {
  const fix = fixture(name, [], { env: { SCIF_NODE: '1', ...env } });
  let nextId = 1;
  const call = async <T>(op: string, args: Record<string, unknown> = {}, ms = bound(60_000)): Promise<T> => {
    const id = nextId++;
    fix.child.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n');
    const m = await fix.message<{ id: number; ok?: T; err?: { code: string; message: string; name: string } }>(
      (m) => m.id === id,
      ms,
    );
    if (m.err) throw new PeerError(m.err);
    return m.ok as T;
  };
  return {
    fix,
    call,
    event: <T>(name: string, ms = bound(60_000)) => fix.message<T>((m) => m.event === name, ms),
    async exit() {
      fix.child.stdin!.end();
      await within(fix.done, bound(30_000), 'the RMA peer to exit');
    },
  };
}

/** A peer process connected to a socket in this process; `local` is ours. */
export async function peerPair(env: Record<string, string> = {}): Promise<{ peer: Peer; local: Socket }> {
  const peer = startPeer(env);
  const server: Server = scif.createServer();
  const address = await listen(server);
  const accepting = once<[Socket]>(server, 'connection');
  await peer.call('connect', { node: address.node, port: address.port });
  const [local] = await accepting;
  server.close();
  return { peer, local };
}

export const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
export const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');
