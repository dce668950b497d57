// Socket: a SCIF endpoint as a net.Socket-style Duplex stream.
//
// The endpoint's fd is polled (uv_poll) only while the stream wants to read
// or has bytes waiting to be written. Reads land straight in pooled Buffers;
// writes go to the endpoint without a copy. SCIF has no half-close, so end()
// flushes what is queued and then closes the endpoint.
import { Duplex, addAbortSignal } from 'node:stream';
import type { NativeEndpoint } from './binding';
import { binding, POLL_DISCONNECT, POLL_READABLE, POLL_WRITABLE } from './binding';
import {
  errnoException,
  invalidArgType,
  invalidArgValue,
  missingArgs,
  outOfRange,
  simpleError,
  validateFunction,
  validateInteger,
  validateObject,
  validatePort,
} from './errors';
import { SEGMENTS_CODE, currentPlatform, MAX_NODES } from './platform';
import { ReadPool } from './pool';
import * as rma from './rma';
import type {
  CopyOptions,
  FenceOptions,
  Mapping,
  MmapOptions,
  RegisterOptions,
  SignalOptions,
  VCopyOptions,
  Window,
} from './rma';

const EINPROGRESS = -115;
const EALREADY = -114;
const ECONNRESET = -104;

/** A SCIF port address: a node of the platform and a port on it. */
export interface PortAddress {
  node: number;
  port: number;
}

/**
 * net's `onread`: reads land in the caller's buffer (reused: no allocation
 * per read) and are handed to `callback` instead of being emitted as 'data'.
 */
export interface OnReadOptions {
  /** The buffer each read lands in, or a function returning it (called before each read). */
  buffer: Uint8Array | (() => Uint8Array);
  /** Called with the bytes read into `buf`; returning `false` pauses reading until resume(). */
  callback(bytesRead: number, buf: Uint8Array): boolean | void;
}

export interface SocketOptions {
  /** SCIF has no half-close: only `false` (the default) is supported. */
  allowHalfOpen?: false;
  /** Passed to stream.Duplex. */
  highWaterMark?: number;
  /** Destroys the socket (with an AbortError) when aborted. */
  signal?: AbortSignal;
  /** Reads into a caller's buffer instead of emitting 'data' (as net's). */
  onread?: OnReadOptions;
}

export interface ConnectOptions extends SocketOptions {
  /** The node to connect to (0 is the host). */
  node: number;
  /** The port on that node, 1 to 65535. */
  port: number;
  /** If set, calls socket.setTimeout(timeout) before connecting. */
  timeout?: number;
}

/** @internal: how a Server hands an accepted endpoint to a Socket. */
export const kAccepted = Symbol('scif.accepted');
/** @internal: called once when an accepted Socket is destroyed (net's server._connections--). */
export const kOnDestroy = Symbol('scif.onDestroy');

interface PendingWrite {
  chunks: Buffer[];
  callback: (err?: Error | null) => void;
  // Queued while connecting: fails the write if the socket closes first (as net's).
  onClose?: () => void;
}

// As net's: after the peer's end, a write fails with EPIPE.
function writeAfterEnd(this: Socket, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (!this.writableEnded) {
    return Socket.prototype.write.call(this, chunk, encoding as BufferEncoding, cb as (err?: Error | null) => void);
  }
  if (typeof encoding === 'function') cb = encoding;
  const err = simpleError('EPIPE', 'This socket has been ended by the other party');
  if (typeof cb === 'function') process.nextTick(cb as (err: Error) => void, err);
  this.destroy(err);
  return false;
}

// As net's: the one internal 'end' listener (listenerCount('end') is 1 on a fresh socket).
function onReadableStreamEnd(this: Socket): void {
  (this as { write: unknown }).write = writeAfterEnd;
}

const TIMEOUT_MAX = 2 ** 31 - 1;

export class Socket extends Duplex {
  /** True between connect() and the 'connect' event. */
  connecting = false;
  /** Bytes received. */
  bytesRead = 0;

  #ep: NativeEndpoint | null = null;
  #bytesWritten = 0;
  #pool = new ReadPool();
  // What the endpoint polls for (bit 0 readable, bit 1 writable; -1 unknown).
  #polling = -1;
  #wantRead = false;
  /** The last recv found the endpoint drained (see _read). */
  #drained = false;
  #pending: PendingWrite | null = null;
  #finalCallback: ((err?: Error | null) => void) | null = null;
  #local: PortAddress | null = null;
  #remote: PortAddress | null = null;
  // Where connect() is going (remoteNode/remotePort stay undefined until 'connect', as net's).
  #target: PortAddress | null = null;
  #onread: OnReadOptions | null = null;
  #refed = true;
  #timeoutMs: number | undefined;
  #timer: NodeJS.Timeout | null = null;
  #readEnded = false;
  #closedEndpoint = false;
  #hadError = false;
  /** @internal */
  [kOnDestroy]?: () => void;

  constructor(options: SocketOptions = {}) {
    if (options === null || options === undefined) options = {};
    validateObject(options, 'options');
    if (options.allowHalfOpen) {
      throw invalidArgValue('options.allowHalfOpen', options.allowHalfOpen, 'is unsupported: SCIF has no half-close');
    }
    for (const mode of ['objectMode', 'readableObjectMode', 'writableObjectMode'] as const) {
      const value = (options as Record<string, unknown>)[mode];
      if (value) throw invalidArgValue(`options.${mode}`, value, 'is not supported');
    }
    super({
      allowHalfOpen: false,
      emitClose: false,
      autoDestroy: true,
      decodeStrings: true,
      highWaterMark: options.highWaterMark,
    });
    const onread = options.onread;
    if (
      onread !== null &&
      typeof onread === 'object' &&
      (typeof onread.buffer === 'function' || onread.buffer instanceof Uint8Array) &&
      typeof onread.callback === 'function'
    ) {
      this.#onread = onread;
    }
    this.on('end', onReadableStreamEnd);
    const accepted = (options as { [kAccepted]?: NativeEndpoint })[kAccepted];
    if (accepted) {
      this.#attach(accepted);
      this.#cacheAddresses();
    }
    // After every field exists. An aborted signal destroys the socket on the
    // next tick, as net's (so the caller can still add listeners).
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal !== null && typeof signal === 'object' && signal.aborted) {
        process.nextTick(() => addAbortSignal(signal, this));
      } else {
        addAbortSignal(signal, this);
      }
    }
  }

  // --- Addresses -------------------------------------------------------------

  // Every getter reads undefined on the prototype (as net's), not a TypeError.
  get localNode(): number | undefined {
    return #local in this ? this.#local?.node : undefined;
  }
  get localPort(): number | undefined {
    return #local in this ? this.#local?.port : undefined;
  }
  get remoteNode(): number | undefined {
    return #remote in this ? this.#remote?.node : undefined;
  }
  get remotePort(): number | undefined {
    return #remote in this ? this.#remote?.port : undefined;
  }
  /** The local address, `{ node, port }`, or `{}` before connecting (as net). */
  address(): PortAddress | Record<string, never> {
    // As net: nothing once the endpoint is closed.
    return this.#local && !this.#closedEndpoint ? { ...this.#local } : {};
  }
  /** Bytes handed to the endpoint plus bytes still queued, as net counts. */
  get bytesWritten(): number {
    if (!(#bytesWritten in this)) return undefined as unknown as number;
    // Writable's buffer of writes not yet passed to _write (untyped in @types/node).
    const buffered = (this as unknown as { writableBuffer?: Array<{ chunk: Buffer }> }).writableBuffer ?? [];
    let queued = 0;
    for (const entry of buffered) queued += entry.chunk.length;
    return this.#bytesWritten + queued;
  }
  /** True until connected, and again once closed (as net's). */
  get pending(): boolean {
    if (!(#ep in this)) return true;
    return this.#ep === null || this.connecting || this.destroyed;
  }
  /** Bytes queued to write (net's bufferSize); undefined without an endpoint. */
  get bufferSize(): number | undefined {
    if (!(#ep in this)) return undefined;
    return this.#ep !== null && !this.destroyed ? this.writableLength : undefined;
  }
  /** net's old name for `connecting`. */
  get _connecting(): boolean {
    return this.connecting;
  }
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (!(#ep in this) || this.#ep === null) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  // --- Connecting ------------------------------------------------------------

  /** Connects to `{ node, port }`; `listener` is added for 'connect'. */
  connect(options: ConnectOptions, listener?: () => void): this {
    if (options === undefined || (options !== null && typeof options === 'object' && options.port === undefined)) {
      throw missingArgs('The "options" or "port" argument must be specified');
    }
    validateObject(options, 'options');
    const node = validateInteger(options.node, 'options.node', 0, MAX_NODES - 1);
    const port = validatePort(options.port, 'options.port', false);
    if (listener !== undefined) validateFunction(listener, 'listener');
    // As net's: connect() on a closed socket (e.g. from 'close') reuses it.
    if (this.destroyed && !this.connecting) this.#reset();
    if (options.timeout !== undefined) this.setTimeout(options.timeout);
    if (this.#ep !== null || this.connecting) {
      throw simpleError('ERR_SOCKET_CONNECTION_ALREADY_ESTABLISHED', 'Socket is already connected or connecting');
    }
    if (this.destroyed) {
      throw simpleError('ERR_SOCKET_CLOSED', 'Socket is closed');
    }
    if (listener) this.once('connect', listener);
    this.connecting = true;
    const where = { node, port };
    const platform = currentPlatform();
    binding.setBusyPoll(platform.busyPollUs);
    const ep = new binding.Endpoint(platform.provider, platform.node, platform.nodes, SEGMENTS_CODE[platform.segments], platform.lane === 'off' ? 0 : 1);
    if (ep.openError !== undefined) {
      process.nextTick(() => this.destroy(errnoException(ep.openError as number, 'scif_open', where)));
      return this;
    }
    this.#attach(ep);
    this.#target = where;
    const rc = ep.connect(node, port);
    if (rc === EINPROGRESS) {
      this.#updatePoll();
    } else {
      // Never synchronously, and not before I/O has had its turn (as net's).
      setImmediate(() => this.#afterConnect(rc, where));
    }
    return this;
  }

  // Back to a fresh socket, for connect() after close.
  #reset(): void {
    if (this.write !== Socket.prototype.write) delete (this as { write?: unknown }).write;
    (this as unknown as { _undestroy(): void })._undestroy();
    this.#ep = null;
    // Counters are per connection, as net's.
    this.bytesRead = 0;
    this.#bytesWritten = 0;
    this.#polling = -1;
    this.#wantRead = false;
    this.#drained = false;
    this.#pending = null;
    this.#finalCallback = null;
    this.#local = null;
    this.#remote = null;
    this.#target = null;
    this.#readEnded = false;
    this.#closedEndpoint = false;
    this.#hadError = false;
    this.#onreadPaused = false;
  }

  #attach(ep: NativeEndpoint): void {
    this.#ep = ep;
    ep.onPoll((status, events) => this.#onPoll(status, events));
    if (!this.#refed) ep.unref();
  }

  #cacheAddresses(): void {
    const ep = this.#ep;
    if (!ep) return;
    const l = ep.local();
    const r = ep.remote();
    if (l) this.#local = { node: l[0], port: l[1] };
    if (r) this.#remote = { node: r[0], port: r[1] };
  }

  #afterConnect(rc: number, where: PortAddress): void {
    if (this.destroyed || !this.connecting) return;
    if (rc !== 0) {
      this.connecting = false;
      this.destroy(errnoException(rc, 'scif_connect', where));
      return;
    }
    this.connecting = false;
    this.#cacheAddresses();
    this.#touch();
    const onClose = this.#pending?.onClose;
    if (onClose) {
      this.removeListener('close', onClose);
      (this.#pending as PendingWrite).onClose = undefined;
    }
    this.emit('connect');
    this.emit('ready');
    // As net: start reading now, so that the peer's close is seen (as an
    // immediate 'end') even by a socket nobody reads from.
    if (!this.destroyed && !this.isPaused()) this.read(0);
    if (this.#pending) this.#flush();
    else if (this.#finalCallback) this.#doFinal();
    this.#updatePoll();
  }

  // --- Polling ---------------------------------------------------------------

  #updatePoll(): void {
    const ep = this.#ep;
    if (!ep || this.#closedEndpoint) return;
    let readable = false;
    let writable = false;
    if (this.connecting) {
      writable = true;
    } else {
      readable = this.#wantRead && !this.#readEnded;
      writable = this.#pending !== null;
    }
    // Unchanged: no call into the addon (this runs after every I/O event).
    const want = (readable ? 1 : 0) | (writable ? 2 : 0);
    if (want === this.#polling) return;
    const rc = ep.poll(readable, writable);
    if (rc < 0) {
      this.#polling = -1;
      this.destroy(errnoException(rc, 'scif_poll'));
      return;
    }
    this.#polling = want;
  }

  #onPoll(status: number, events: number): void {
    if (this.destroyed) return;
    if (status < 0) {
      this.#polling = -1; // libuv stopped the handle
      // libuv reports an error condition on the fd (POLLERR, e.g. the peer
      // vanished) as UV_EBADF: let the endpoint's own connect, recv and send
      // say what it is, as they do for a disconnect.
      events = POLL_READABLE | POLL_WRITABLE | POLL_DISCONNECT;
    }
    if (this.connecting) {
      // Writable (kernel), readable (the user provider's grant) or a hang-up.
      if (events & (POLL_READABLE | POLL_WRITABLE | POLL_DISCONNECT)) {
        const ep = this.#ep as NativeEndpoint;
        const rc = ep.finishConnect();
        // Still under way (a wake-up that was not the result): keep waiting.
        if (rc === EINPROGRESS || rc === EALREADY) return;
        this.#afterConnect(rc, this.#target as PortAddress);
      }
      return;
    }
    if (events & POLL_WRITABLE && this.#pending) this.#flush();
    if (this.destroyed) return;
    if (events & (POLL_READABLE | POLL_DISCONNECT)) {
      this.#drained = false;
      if (this.#wantRead) this.#readLoop();
    }
    if (!this.destroyed) this.#updatePoll();
  }

  // --- Reading ---------------------------------------------------------------

  override _read(): void {
    this.#wantRead = true;
    if (this.connecting || !this.#ep) return;
    // Read what is already queued right away, then poll for more; but not
    // when the last read drained the endpoint and we are still polling for
    // readable since: a readable event would have said if more had come
    // (the stream asks again right after each push, and that recv would
    // only say "would block": one system call per message saved).
    if (!(this.#drained && this.#polling & 1)) this.#readLoop();
    if (!this.destroyed) this.#updatePoll();
  }

  // Reads on after a turn whose reads were spent (see ReadPool.mayRead).
  #readOn = (): void => {
    if (this.destroyed || !this.#wantRead) return;
    this.#readLoop();
    if (!this.destroyed) this.#updatePoll();
  };

  #readLoop(): void {
    const ep = this.#ep;
    if (!ep || this.#readEnded || this.#closedEndpoint) return;
    if (this.#onread) {
      this.#readInto(ep, this.#onread);
      return;
    }
    const pool = this.#pool;
    for (;;) {
      // This turn's reads are spent: read on when it ends.
      if (!ReadPool.mayRead(this.#readOn)) return;
      const region = pool.region();
      const n = ep.recv(region.buffer, region.offset, region.length);
      if (n > 0) {
        const data = pool.commit(region, n);
        this.bytesRead += n;
        this.#touch();
        if (!this.push(data)) {
          this.#wantRead = false;
          return;
        }
        if (n < region.length) {
          this.#drained = true; // poll for more
          return;
        }
        continue;
      }
      pool.release();
      if (n === 0) {
        this.#drained = true; // would block
        return;
      }
      if (n === ECONNRESET) {
        // The peer has gone and its bytes are drained: end of stream.
        this.#readEnded = true;
        this.#wantRead = false;
        this.push(null);
        this.read(0); // as net: 'end' now if nothing is buffered, even unread
        return;
      }
      this.destroy(errnoException(n, 'scif_recv', this.#remote ?? undefined));
      return;
    }
  }

  // onread: straight into the caller's buffer, handed to its callback; no
  // allocation per read (the addon reads into the buffer's own memory).
  #onreadPaused = false;
  #readInto(ep: NativeEndpoint, onread: OnReadOptions): void {
    const fixed = typeof onread.buffer === 'function' ? null : onread.buffer;
    for (;;) {
      const buf = fixed ?? (onread.buffer as () => Uint8Array)();
      const n = ep.recv(buf, 0, buf.length);
      if (n > 0) {
        this.bytesRead += n;
        this.#touch();
        if (onread.callback.call(this, n, buf) === false) {
          this.#wantRead = false;
          this.#onreadPaused = true;
          return;
        }
        if (this.destroyed || !this.#wantRead || this.#closedEndpoint) return;
        if (n < buf.length) return; // drained; poll for more
        continue;
      }
      if (n === 0) return;
      if (n === ECONNRESET) {
        this.#readEnded = true;
        this.#wantRead = false;
        this.push(null);
        this.read(0);
        return;
      }
      this.destroy(errnoException(n, 'scif_recv', this.#remote ?? undefined));
      return;
    }
  }

  // With onread, pause() and resume() start and stop the reads themselves
  // (nothing is pushed, so the stream machinery would not), as net's.
  #readStart(): void {
    if (!this.#onread || this.connecting || !this.#ep || this.#wantRead || this.destroyed) return;
    this.#onreadPaused = false;
    this.#wantRead = true;
    this.#readLoop();
    if (!this.destroyed) this.#updatePoll();
  }

  override pause(): this {
    if (this.#onread && !this.connecting && this.#ep && this.#wantRead) {
      this.#wantRead = false;
      this.#onreadPaused = true;
      this.#updatePoll();
    }
    return super.pause();
  }

  override resume(): this {
    if (this.#onread && this.#onreadPaused) this.#readStart();
    return super.resume();
  }

  override read(size?: number): unknown {
    if (#onread in this && this.#onread && this.#onreadPaused) this.#readStart();
    return super.read(size);
  }

  // --- Writing ---------------------------------------------------------------

  // As net's: a string with the 'buffer' encoding is not a Buffer.
  override write(chunk: unknown, callback?: (error: Error | null | undefined) => void): boolean;
  override write(chunk: unknown, encoding: BufferEncoding, callback?: (error: Error | null | undefined) => void): boolean;
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | ((error: Error | null | undefined) => void),
    callback?: (error: Error | null | undefined) => void,
  ): boolean {
    if (typeof chunk === 'string' && (encoding as string) === 'buffer') {
      throw invalidArgType('buffer', 'an instance of Buffer, TypedArray, or DataView', chunk);
    }
    return super.write(chunk, encoding as BufferEncoding, callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    // The common case first: connected, nothing waiting, and the endpoint
    // takes the whole chunk at once (no queue entry, no poll change).
    const ep = this.#ep;
    if (ep && !this.connecting && !this.#closedEndpoint && this.#pending === null && chunk.length > 0) {
      const n = ep.send(chunk);
      if (n === chunk.length) {
        this.#bytesWritten += n;
        this.#touch();
        callback();
        if (this.#finalCallback) this.#doFinal();
        return;
      }
      if (n > 0) {
        this.#bytesWritten += n; // #queue counts the rest
        this.#touch();
        chunk = chunk.subarray(n);
      } else if (n < 0) {
        callback(errnoException(n, 'scif_send', this.#remote ?? undefined));
        return;
      }
    }
    this.#queue([chunk], callback);
  }

  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (err?: Error | null) => void,
  ): void {
    this.#queue(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  #queue(chunks: Buffer[], callback: (err?: Error | null) => void): void {
    // Counted as written once handed to us, as net counts what it has
    // dispatched to its handle.
    for (const c of chunks) this.#bytesWritten += c.length;
    if (this.connecting) {
      // Flushed after 'connect'; failed if the socket closes first (as net's).
      const pending: PendingWrite = { chunks, callback };
      pending.onClose = () => callback(simpleError('ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'Socket closed before the connection was established'));
      this.once('close', pending.onClose);
      this.#pending = pending;
      return;
    }
    if (!this.#ep || this.#closedEndpoint) {
      callback(simpleError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      return;
    }
    this.#pending = { chunks, callback };
    this.#flush();
    if (!this.destroyed) this.#updatePoll();
  }

  #flush(): void {
    const ep = this.#ep;
    const pending = this.#pending;
    if (!ep || !pending) return;
    const chunks = pending.chunks;
    while (chunks.length > 0) {
      const n = chunks.length === 1 ? ep.send(chunks[0]) : ep.sendv(chunks.slice(0, 1024));
      if (n < 0) {
        this.#pending = null;
        const err = errnoException(n, 'scif_send', this.#remote ?? undefined);
        pending.callback(err);
        return;
      }
      if (n === 0) return; // would block: poll for writable
      this.#touch();
      let left = n;
      while (left > 0) {
        const head = chunks[0];
        if (head.length <= left) {
          left -= head.length;
          chunks.shift();
        } else {
          chunks[0] = head.subarray(left);
          left = 0;
        }
      }
      while (chunks.length > 0 && chunks[0].length === 0) chunks.shift();
    }
    this.#pending = null;
    pending.callback();
    if (this.#finalCallback && !this.#pending) this.#doFinal();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#finalCallback = callback;
    if (this.connecting || this.#pending) return;
    this.#doFinal();
  }

  // Everything queued has gone: close the endpoint (SCIF has no half-close),
  // which ends the readable side too.
  #doFinal(): void {
    const cb = this.#finalCallback;
    if (!cb) return;
    this.#finalCallback = null;
    this.#closeEndpoint();
    cb();
    if (!this.#readEnded) {
      this.#readEnded = true;
      this.push(null);
      this.read(0); // as net: 'end' now if nothing is buffered, even unread
    }
  }

  // --- Closing ---------------------------------------------------------------

  #closeEndpoint(): void {
    if (this.#closedEndpoint) return;
    this.#closedEndpoint = true;
    ReadPool.forget(this.#readOn);
    this.#ep?.close();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#hadError = err !== null && err !== undefined;
    // As net's: a socket that never had an endpoint emits 'close' without hadError.
    const neverOpened = this.#ep === null;
    this.connecting = false;
    this.#clearTimer();
    this.#closeEndpoint();
    // As net: the server counts the connection gone now, before 'close'.
    const onDestroy = this[kOnDestroy];
    this[kOnDestroy] = undefined;
    onDestroy?.();
    const pending = this.#pending?.onClose ? null : this.#pending;
    this.#pending = null;
    callback(err);
    // As net: a write caught in flight completes (its bytes are gone with the
    // endpoint), then 'close' follows 'error'. One queued while connecting
    // fails from 'close' (its listener).
    process.nextTick(() => {
      pending?.callback();
      if (neverOpened) this.emit('close');
      else this.emit('close', this.#hadError);
    });
  }

  /** Ends the socket once queued writes are flushed (net's destroySoon). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /**
   * Closes the socket abruptly, like destroy() (net's resetAndDestroy; SCIF
   * has no RST). While connecting: once connected. Never connected:
   * destroyed with ERR_SOCKET_CLOSED, as net's.
   */
  resetAndDestroy(): this {
    if (this.#ep === null) return this.destroy(simpleError('ERR_SOCKET_CLOSED', 'Socket is closed'));
    if (this.connecting) this.once('connect', () => this.destroy());
    else this.destroy();
    return this;
  }

  // --- Timeouts and refs -------------------------------------------------------

  /** Emits 'timeout' after `ms` of inactivity; 0 disables. */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== 'number') throw invalidArgType('msecs', 'of type number', ms);
    if (ms < 0 || !Number.isFinite(ms)) throw outOfRange('msecs', 'a non-negative finite number', ms);
    if (ms > TIMEOUT_MAX) {
      process.emitWarning(`${ms} does not fit into a 32-bit signed integer.\nTimeout duration was set to 1.`, 'TimeoutOverflowWarning');
      ms = TIMEOUT_MAX;
    }
    if (callback !== undefined) validateFunction(callback, 'callback');
    this.#timeoutMs = ms;
    this.#clearTimer();
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    if (ms > 0 && !this.destroyed) {
      this.#timer = setTimeout(() => this.#onTimeout(), ms);
      this.#timer.unref();
    }
    return this;
  }

  /** The idle timeout set by setTimeout() (0: disabled), as net's. */
  get timeout(): number | undefined {
    return #timeoutMs in this ? this.#timeoutMs : undefined;
  }

  // The fired timer is kept: the next activity (#touch) re-arms it, so
  // 'timeout' fires once per idle period, as net's does.
  #onTimeout(): void {
    this.emit('timeout');
  }

  #touch(): void {
    this.#timer?.refresh();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Present for net compatibility; SCIF messaging has no Nagle delay. */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** Present for net compatibility; SCIF detects a lost peer itself. */
  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }

  // --- RMA ---------------------------------------------------------------------

  #rmaHost: rma.RmaHost = {
    endpoint: (syscall: string): NativeEndpoint => {
      const ep = this.#ep;
      if (!ep || this.connecting || this.#closedEndpoint || this.destroyed) {
        throw errnoException(-107 /* ENOTCONN */, syscall);
      }
      return ep;
    },
    windows: new Set<Window>(),
  };

  /**
   * Registers `buffer` (whole pages, e.g. from scif.alloc) as a window the
   * peer can read and write by RMA. The buffer stays alive while registered.
   */
  register(buffer: Uint8Array, options?: RegisterOptions): Promise<Window> {
    return rma.register(this.#rmaHost, buffer, options);
  }

  /** Unregisters whole windows covering [offset, offset + length). */
  unregister(offset: number, length: number): Promise<void> {
    return rma.unregisterRange(this.#rmaHost, offset, length);
  }

  /** Copies `length` bytes from our window at `localOffset` to the peer's at `remoteOffset`. */
  writeTo(localOffset: number, length: number, remoteOffset: number, options?: CopyOptions): Promise<void> {
    return rma.copy(this.#rmaHost, true, localOffset, length, remoteOffset, options);
  }

  /** Copies `length` bytes from the peer's window at `remoteOffset` to ours at `localOffset`. */
  readFrom(localOffset: number, length: number, remoteOffset: number, options?: CopyOptions): Promise<void> {
    return rma.copy(this.#rmaHost, false, localOffset, length, remoteOffset, options);
  }

  /** Copies `source` (any memory) to the peer's window at `remoteOffset`. */
  vwriteTo(source: Uint8Array, remoteOffset: number, options?: VCopyOptions): Promise<void> {
    return rma.vcopy(this.#rmaHost, true, source, remoteOffset, options);
  }

  /** Fills `target` (any memory) from the peer's window at `remoteOffset`. */
  vreadFrom(target: Uint8Array, remoteOffset: number, options?: VCopyOptions): Promise<void> {
    return rma.vcopy(this.#rmaHost, false, target, remoteOffset, options);
  }

  /** Marks the RMAs issued so far (ours, or with `peer` the peer's); resolves to the mark. */
  fenceMark(options?: FenceOptions): Promise<number> {
    return rma.fenceMark(this.#rmaHost, options);
  }

  /** Resolves once every RMA before `mark` has completed. */
  fenceWait(mark: number): Promise<void> {
    return rma.fenceWait(this.#rmaHost, mark);
  }

  /** Writes 64-bit values into our and/or the peer's window once the RMAs issued so far complete. */
  fenceSignal(options: SignalOptions): Promise<void> {
    return rma.fenceSignal(this.#rmaHost, options);
  }

  /** Maps the peer's window at `remoteOffset` into this process. */
  mmap(remoteOffset: number, length: number, options?: MmapOptions): Mapping {
    return rma.mmap(this.#rmaHost, remoteOffset, length, options);
  }

  /** The windows this socket has registered. */
  get windows(): Window[] {
    if (!(#rmaHost in this)) return undefined as unknown as Window[];
    return [...this.#rmaHost.windows];
  }

  ref(): this {
    this.#refed = true;
    this.#ep?.ref();
    return this;
  }

  unref(): this {
    this.#refed = false;
    this.#ep?.unref();
    return this;
  }
}

/** Socket's constructor as exported: it also works without `new`, as net's. */
export interface SocketConstructor {
  new (options?: SocketOptions): Socket;
  (options?: SocketOptions): Socket;
  readonly prototype: Socket;
}

/** Makes a class callable without `new` (net's constructors are). */
export function callable<C extends abstract new (...args: never[]) => object>(cls: C): C {
  return new Proxy(cls, {
    apply: (target, _self, args: unknown[]) => Reflect.construct(target, args),
  });
}

/** Creates a Socket and connects it to `{ node, port }`. */
export function connect(options: ConnectOptions, listener?: () => void): Socket;
export function connect(port: number, node?: number, listener?: () => void): Socket;
export function connect(
  a: ConnectOptions | number,
  b?: number | (() => void),
  c?: () => void,
): Socket {
  let options: ConnectOptions;
  let listener: (() => void) | undefined;
  if (a === undefined) throw missingArgs('The "options" or "port" argument must be specified');
  if (typeof a === 'number' || typeof a === 'string') {
    options = { port: a, node: typeof b === 'number' ? b : 0 };
    listener = typeof b === 'function' ? b : c;
  } else {
    validateObject(a, 'options');
    options = a;
    listener = b as (() => void) | undefined;
  }
  const socket = new Socket(options);
  return socket.connect(options, listener);
}

export const createConnection = connect;
