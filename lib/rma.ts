// RMA on a connected socket: registered windows, copies to and from the
// peer's windows, fences, and mmap of the peer's windows. The blocking work
// runs on the addon's own RMA thread for the endpoint, in call order; every
// call returns a Promise (mmap is synchronous).
import type { NativeEndpoint } from './binding';
import { binding } from './binding';
import {
  errnoException,
  invalidArgType,
  invalidArgValue,
  outOfRange,
  validateInteger,
  validateObject,
} from './errors';

/** The page size windows are made of. */
export const PAGE_SIZE = 4096;

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_FIXED = 0x10;
const RMA_USECPU = 1;
const RMA_USECACHE = 2;
const RMA_SYNC = 4;
const RMA_ORDERED = 8;
const FENCE_INIT_SELF = 1;
const FENCE_INIT_PEER = 2;
const SIGNAL_LOCAL = 0x10;
const SIGNAL_REMOTE = 0x20;
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

export type Protection = 'r' | 'w' | 'rw';

export interface RegisterOptions {
  /** With `fixed`, the offset to register at (a multiple of the page size). */
  offset?: number;
  /** What the peer may do with the window: 'r', 'w' or 'rw' (default). */
  prot?: Protection;
  /** Register at exactly `offset` (EADDRINUSE if that overlaps a window). */
  fixed?: boolean;
}

export interface CopyOptions {
  /** Copy with the CPU rather than the DMA engine. */
  cpu?: boolean;
  /** Complete the copy before the promise resolves (else it may finish later; fence it). */
  sync?: boolean;
  /** The last cache line lands last. */
  ordered?: boolean;
}

export interface VCopyOptions extends CopyOptions {
  /** Let the provider keep the pages pinned for later copies. */
  cache?: boolean;
}

export interface FenceOptions {
  /** Fence the peer's RMAs (to this endpoint's windows) rather than ours. */
  peer?: boolean;
}

export interface SignalTarget {
  /** Offset in the registered space (a multiple of 4). */
  offset: number;
  /** The 64-bit value to write. */
  value: bigint | number;
}

export interface SignalOptions extends FenceOptions {
  /** Write into our own window once the RMAs have completed. */
  local?: SignalTarget;
  /** Write into the peer's window once the RMAs have completed. */
  remote?: SignalTarget;
}

export interface MmapOptions {
  prot?: Protection;
}

/** A registered window of local memory. */
export interface Window {
  /** Its offset in this endpoint's registered address space. */
  readonly offset: number;
  readonly length: number;
  /** The memory registered (kept alive while registered). */
  readonly buffer: Buffer;
  /** Unregisters it; waits for RMAs in flight on it. */
  unregister(): Promise<void>;
}

/** A peer window mapped into this process. */
export interface Mapping {
  /** The mapped pages: loads and stores reach the peer's window. */
  readonly buffer: Buffer;
  /** Unmaps it; afterwards `buffer` is detached (length 0). */
  unmap(): void;
}

/** What a Socket lends the RMA functions. */
export interface RmaHost {
  endpoint(op: string): NativeEndpoint;
  windows: Set<Window>;
}

function protBits(prot: unknown, name: string): number {
  if (prot === undefined) return PROT_READ | PROT_WRITE;
  if (prot === 'r') return PROT_READ;
  if (prot === 'w') return PROT_WRITE;
  if (prot === 'rw') return PROT_READ | PROT_WRITE;
  throw invalidArgValue(name, prot, "must be 'r', 'w' or 'rw'");
}

function validateBuffer(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArgType(name, 'an instance of Buffer or Uint8Array', value);
  return value;
}

function validateOffset(value: unknown, name: string): number {
  return validateInteger(value, name, 0, MAX_OFFSET);
}

function validateLength(value: unknown, name: string): number {
  return validateInteger(value, name, 1, MAX_OFFSET);
}

function copyFlags(options: unknown, allowCache: boolean): number {
  if (options === undefined) return 0;
  validateObject(options, 'options');
  const o = options as VCopyOptions;
  let flags = 0;
  if (o.cpu) flags |= RMA_USECPU;
  if (o.sync) flags |= RMA_SYNC;
  if (o.ordered) flags |= RMA_ORDERED;
  if (allowCache && o.cache) flags |= RMA_USECACHE;
  return flags;
}

function validateValue(value: unknown, name: string): bigint | number {
  if (typeof value === 'bigint') {
    if (value < 0n || value > 0xffffffffffffffffn) throw outOfRange(name, '>= 0 and < 2 ** 64', value);
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'a safe non-negative integer', value);
    return value;
  }
  throw invalidArgType(name, 'of type bigint or number', value);
}

/**
 * Runs one native RMA call and turns its result into a settled promise:
 * a negative errno (or a socket that is not connected) rejects.
 */
async function call(host: RmaHost, syscall: string, fn: (ep: NativeEndpoint) => Promise<number>): Promise<number> {
  const rc = await fn(host.endpoint(syscall));
  if (rc < 0) throw errnoException(rc, syscall);
  return rc;
}

/** Page-aligned, shareable memory for windows: whole pages of a memfd. */
export function alloc(length: number): Buffer {
  validateLength(length, 'length');
  const ab = binding.alloc(length);
  if (typeof ab === 'number') throw errnoException(ab, 'scif_alloc');
  return Buffer.from(ab);
}

export function register(host: RmaHost, buffer: unknown, options?: RegisterOptions): Promise<Window> {
  const buf = validateBuffer(buffer, 'buffer');
  let offset = 0;
  let flags = 0;
  let prot = PROT_READ | PROT_WRITE;
  if (options !== undefined) {
    validateObject(options, 'options');
    prot = protBits(options.prot, 'options.prot');
    if (options.fixed) {
      flags |= MAP_FIXED;
      offset = validateOffset(options.offset, 'options.offset');
      if (offset % PAGE_SIZE !== 0) throw invalidArgValue('options.offset', offset, 'must be a multiple of the page size');
    } else if (options.offset !== undefined) {
      validateOffset(options.offset, 'options.offset');
      offset = options.offset;
    }
  }
  if (buf.byteLength === 0 || buf.byteLength % PAGE_SIZE !== 0) {
    throw invalidArgValue('buffer', `<${buf.byteLength} bytes>`, 'must be a whole number of pages (see scif.alloc)');
  }
  return call(host, 'scif_register', (ep) => ep.register(buf, offset, prot, flags)).then((at) => {
    const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    const window: Window = {
      offset: at,
      length: buf.byteLength,
      buffer: view,
      async unregister(): Promise<void> {
        // Gone already (unregistered by range, or by this call before)?
        if (!host.windows.has(window)) throw errnoException(-6 /* ENXIO */, 'scif_unregister');
        await call(host, 'scif_unregister', (ep) => ep.unregister(at, buf.byteLength));
        host.windows.delete(window);
      },
    };
    host.windows.add(window);
    return window;
  });
}

/** Unregisters every window overlapping [offset, offset + length) by range. */
export function unregisterRange(host: RmaHost, offset: number, length: number): Promise<void> {
  validateOffset(offset, 'offset');
  validateLength(length, 'length');
  return call(host, 'scif_unregister', (ep) => ep.unregister(offset, length)).then(() => {
    for (const w of host.windows) {
      if (w.offset >= offset && w.offset + w.length <= offset + length) host.windows.delete(w);
    }
  });
}

export function copy(
  host: RmaHost,
  toPeer: boolean,
  localOffset: number,
  length: number,
  remoteOffset: number,
  options?: CopyOptions,
): Promise<void> {
  validateOffset(localOffset, 'localOffset');
  validateLength(length, 'length');
  validateOffset(remoteOffset, 'remoteOffset');
  const flags = copyFlags(options, false);
  const syscall = toPeer ? 'scif_writeto' : 'scif_readfrom';
  return call(host, syscall, (ep) => ep.copy(toPeer, localOffset, length, remoteOffset, flags)).then(() => undefined);
}

export function vcopy(
  host: RmaHost,
  toPeer: boolean,
  buffer: unknown,
  remoteOffset: number,
  options?: VCopyOptions,
): Promise<void> {
  const buf = validateBuffer(buffer, toPeer ? 'source' : 'target');
  if (buf.byteLength === 0) throw invalidArgValue(toPeer ? 'source' : 'target', buf, 'must not be empty');
  validateOffset(remoteOffset, 'remoteOffset');
  const flags = copyFlags(options, true);
  const syscall = toPeer ? 'scif_vwriteto' : 'scif_vreadfrom';
  return call(host, syscall, (ep) => ep.vcopy(toPeer, buf, remoteOffset, flags)).then(() => undefined);
}

export function fenceMark(host: RmaHost, options?: FenceOptions): Promise<number> {
  if (options !== undefined) validateObject(options, 'options');
  const flags = options?.peer ? FENCE_INIT_PEER : FENCE_INIT_SELF;
  // The native layer hands the mark over as its unsigned 32-bit pattern.
  return call(host, 'scif_fence_mark', (ep) => ep.fenceMark(flags)).then((mark) => mark | 0);
}

export function fenceWait(host: RmaHost, mark: number): Promise<void> {
  // Marks are opaque 32-bit integers (a mark of the peer's RMAs may be negative).
  validateInteger(mark, 'mark', -(2 ** 31), 2 ** 31 - 1);
  return call(host, 'scif_fence_wait', (ep) => ep.fenceWait(mark)).then(() => undefined);
}

export function fenceSignal(host: RmaHost, options: SignalOptions): Promise<void> {
  validateObject(options, 'options');
  let flags = options.peer ? FENCE_INIT_PEER : FENCE_INIT_SELF;
  let loff = 0;
  let roff = 0;
  let lval: bigint | number = 0;
  let rval: bigint | number = 0;
  const target = (t: unknown, name: string): [number, bigint | number] => {
    validateObject(t, name);
    const s = t as SignalTarget;
    const off = validateOffset(s.offset, `${name}.offset`);
    if (off % 4 !== 0) throw invalidArgValue(`${name}.offset`, off, 'must be a multiple of 4');
    return [off, validateValue(s.value, `${name}.value`)];
  };
  if (options.local !== undefined) {
    [loff, lval] = target(options.local, 'options.local');
    flags |= SIGNAL_LOCAL;
  }
  if (options.remote !== undefined) {
    [roff, rval] = target(options.remote, 'options.remote');
    flags |= SIGNAL_REMOTE;
  }
  if (!(flags & (SIGNAL_LOCAL | SIGNAL_REMOTE))) {
    throw invalidArgValue('options', options, 'must have local and/or remote');
  }
  return call(host, 'scif_fence_signal', (ep) => ep.fenceSignal(loff, lval, roff, rval, flags)).then(
    () => undefined,
  );
}

export function mmap(host: RmaHost, remoteOffset: number, length: number, options?: MmapOptions): Mapping {
  validateOffset(remoteOffset, 'remoteOffset');
  validateLength(length, 'length');
  if (remoteOffset % PAGE_SIZE !== 0) throw invalidArgValue('remoteOffset', remoteOffset, 'must be a multiple of the page size');
  if (length % PAGE_SIZE !== 0) throw invalidArgValue('length', length, 'must be a multiple of the page size');
  let prot = PROT_READ | PROT_WRITE;
  if (options !== undefined) {
    validateObject(options, 'options');
    prot = protBits(options.prot, 'options.prot');
  }
  const ab = host.endpoint('scif_mmap').mmap(remoteOffset, length, prot);
  if (typeof ab === 'number') throw errnoException(ab, 'scif_mmap');
  const buffer = Buffer.from(ab);
  return {
    buffer,
    unmap(): void {
      binding.unmap(ab);
    },
  };
}
