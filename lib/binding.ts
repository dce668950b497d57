// The native addon, typed. Everything here returns numbers (>= 0 success,
// negative errno failure) so that the Node semantics live in TypeScript.
import * as path from 'node:path';

/** Poll event bits passed to an endpoint's poll callback. */
export const POLL_READABLE = 1;
export const POLL_WRITABLE = 2;
export const POLL_DISCONNECT = 4;

export type ProviderName = 'user' | 'kernel';

export interface NativeEndpoint {
  readonly fd: number;
  readonly openError?: number;
  bind(port: number): number;
  listen(backlog: number): number;
  connect(node: number, port: number): number;
  finishConnect(): number;
  accept(): NativeEndpoint | number;
  send(data: Uint8Array): number;
  sendv(data: Uint8Array[]): number;
  recv(buffer: Uint8Array, offset: number, length: number): number;
  poll(readable: boolean, writable: boolean): number;
  onPoll(callback: (this: NativeEndpoint, status: number, events: number) => void): void;
  ref(): void;
  unref(): void;
  local(): [number, number] | null;
  remote(): [number, number] | null;
  close(): void;
  register(buffer: Uint8Array, offset: number, prot: number, flags: number): Promise<number>;
  unregister(offset: number, length: number): Promise<number>;
  copy(toPeer: boolean, localOffset: number, length: number, remoteOffset: number, flags: number): Promise<number>;
  vcopy(toPeer: boolean, buffer: Uint8Array, remoteOffset: number, flags: number): Promise<number>;
  fenceMark(flags: number): Promise<number>;
  fenceWait(mark: number): Promise<number>;
  fenceSignal(loff: number, lval: bigint | number, roff: number, rval: bigint | number, flags: number): Promise<number>;
  mmap(remoteOffset: number, length: number, prot: number): ArrayBuffer | number;
}

export interface NativeBinding {
  Endpoint: new (provider: ProviderName, node: number, nodes: number, segments?: number, lane?: number) => NativeEndpoint;
  getNodeIds(provider: ProviderName, node: number, nodes: number): { self: number; nodes: number[] } | number;
  alloc(length: number): ArrayBuffer | number;
  unmap(buffer: ArrayBuffer): boolean;
  setBusyPoll(microseconds: number): void;
  /** Recycled read memory (native/read_slabs.h): a Buffer of `size` bytes, or undefined. */
  readSlab(size: number): Buffer | undefined;
  readSlabStats(): ReadSlabStats;
  /** Bytes of shared copies (native/user_stream.h) on this thread's endpoints, open and closed. */
  helpedBytes(): number;
}

export interface ReadSlabStats {
  /** Slabs held by Buffers now. */
  out: number;
  /** Slabs on the free lists. */
  free: number;
  /** Slabs ever allocated. */
  made: number;
  /** Takes served from a free list. */
  reused: number;
  /** Slabs freed because they went unused for a while. */
  trimmed: number;
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const load = require('node-gyp-build') as (dir: string) => unknown;

export const binding = load(path.join(__dirname, '..')) as NativeBinding;
