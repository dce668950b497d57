// Server: a listening SCIF endpoint, shaped like net.Server.
import { EventEmitter } from 'node:events';
import type { NativeEndpoint } from './binding';
import { binding, POLL_READABLE } from './binding';
import {
  errnoException,
  invalidArgType,
  simpleError,
  validateFunction,
  validateInteger,
  validateObject,
  validatePort,
} from './errors';
import { SEGMENTS_CODE, currentPlatform } from './platform';
import type { PortAddress, SocketOptions } from './socket';
import { kAccepted, kOnDestroy, Socket } from './socket';

const EAGAIN = -11;
const DEFAULT_BACKLOG = 511;
const MAX_BACKLOG = 1024;

export interface ServerOptions extends Omit<SocketOptions, 'onread' | 'signal'> {
  /** Start accepted sockets paused (no reading until resume()). */
  pauseOnConnect?: boolean;
  /** EventEmitter's captureRejections: a rejected async 'connection' listener destroys that socket. */
  captureRejections?: boolean;
}

export interface ListenOptions {
  /** The port to listen on; 0 or omitted picks one (from 1089 up). */
  port?: number;
  /** Pending connection requests, 1 to 1024 (default 511). */
  backlog?: number;
  /** Closes the server when aborted. */
  signal?: AbortSignal;
}

/** The details a 'drop' event carries, as net's. */
export interface DropArgument {
  localNode: number;
  localPort: number;
  remoteNode: number;
  remotePort: number;
}

export class Server extends EventEmitter {
  /** Refuse (and emit 'drop' for) connections beyond this many. */
  maxConnections?: number;

  #ep: NativeEndpoint | null = null;
  #address: PortAddress | null = null;
  #connections = new Set<Socket>();
  #refed = true;
  #options: ServerOptions;

  constructor(options?: ServerOptions | ((socket: Socket) => void), onConnection?: (socket: Socket) => void) {
    if (typeof options === 'function') {
      onConnection = options;
      options = {};
    } else if (options === undefined || options === null) {
      options = {};
    } else {
      validateObject(options, 'options');
    }
    super({ captureRejections: options.captureRejections });
    if ((options as SocketOptions).allowHalfOpen) new Socket(options as SocketOptions); // throws the documented error
    this.#options = options;
    if (onConnection !== undefined) {
      validateFunction(onConnection, 'connectionListener');
      this.on('connection', onConnection);
    }
  }

  get listening(): boolean {
    return this.#ep !== null;
  }

  /**
   * Starts listening: listen(port?, backlog?, callback?) or
   * listen({ port, backlog }, callback?). Emits 'listening', or 'error'
   * (EADDRINUSE, EACCES, ...).
   */
  listen(port?: number | ListenOptions | (() => void), backlog?: number | (() => void), callback?: () => void): this {
    let options: ListenOptions;
    if (typeof port === 'function') {
      callback = port;
      options = {};
    } else if (port !== null && typeof port === 'object') {
      options = port;
      if (typeof backlog === 'function') callback = backlog;
    } else {
      options = { port: port as number | undefined };
      if (typeof backlog === 'function') {
        callback = backlog;
      } else if (backlog !== undefined) {
        options.backlog = backlog;
      }
    }
    const p = options.port === undefined || options.port === null ? 0 : validatePort(options.port, 'port', true);
    const b = options.backlog === undefined ? DEFAULT_BACKLOG : validateInteger(options.backlog, 'backlog', 1, 2 ** 31 - 1);
    if (callback !== undefined) validateFunction(callback, 'callback');
    const signal = options.signal;
    if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
      throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
    }
    if (this.#ep !== null) {
      throw simpleError('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
    }
    if (signal) {
      // As net's: an abort closes the server.
      if (signal.aborted) {
        process.nextTick(() => this.close());
      } else {
        const onAbort = () => this.close();
        signal.addEventListener('abort', onAbort, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
    if (callback) this.once('listening', callback);

    const platform = currentPlatform();
    binding.setBusyPoll(platform.busyPollUs);
    const ep = new binding.Endpoint(platform.provider, platform.node, platform.nodes, SEGMENTS_CODE[platform.segments], platform.lane === 'off' ? 0 : 1);
    const where = { node: platform.node, port: p };
    let rc = ep.openError ?? ep.bind(p);
    let syscall = ep.openError !== undefined ? 'scif_open' : 'scif_bind';
    if (rc >= 0) {
      where.port = rc;
      // The provider's own view: on a SCIF link the kernel's node id is the fabric's, not SCIF_NODE's.
      where.node = ep.local()?.[0] ?? where.node;
      rc = ep.listen(Math.min(b, MAX_BACKLOG));
      syscall = 'scif_listen';
    }
    if (rc < 0) {
      ep.close();
      const err = errnoException(rc, syscall, where);
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this.#ep = ep;
    this.#address = where;
    ep.onPoll((status, events) => this.#onPoll(status, events));
    if (!this.#refed) ep.unref();
    const prc = ep.poll(true, false);
    if (prc < 0) {
      this.#ep = null;
      ep.close();
      process.nextTick(() => this.emit('error', errnoException(prc, 'scif_poll', where)));
      return this;
    }
    process.nextTick(() => {
      if (this.#ep === ep) this.emit('listening');
    });
    return this;
  }

  #onPoll(status: number, events: number): void {
    const ep = this.#ep;
    if (!ep) return;
    if (status < 0) {
      // The listening endpoint is in an error state: it cannot accept any
      // more. Stop listening (connections already made carry on), and say why.
      const err = errnoException(status, 'scif_poll', this.#address ?? undefined);
      this.close();
      this.emit('error', err);
      return;
    }
    if (!(events & POLL_READABLE)) return;
    for (;;) {
      const conn = ep.accept();
      if (typeof conn === 'number') {
        if (conn === EAGAIN) return;
        this.emit('error', errnoException(conn, 'scif_accept', this.#address ?? undefined));
        return;
      }
      if (this.maxConnections !== undefined && this.#connections.size >= this.maxConnections) {
        const l = conn.local() ?? [0, 0];
        const r = conn.remote() ?? [0, 0];
        conn.close();
        const drop: DropArgument = { localNode: l[0], localPort: l[1], remoteNode: r[0], remotePort: r[1] };
        this.emit('drop', drop);
        continue;
      }
      const socket = new Socket({ ...(this.#options as SocketOptions), [kAccepted]: conn } as SocketOptions);
      this.#connections.add(socket);
      socket[kOnDestroy] = () => {
        this.#connections.delete(socket);
        this.#emitCloseIfDrained();
      };
      // As net: an accepted socket starts reading at once (unless paused).
      if (this.#options.pauseOnConnect) socket.pause();
      else socket.read(0);
      this.emit('connection', socket);
      if (this.#ep !== ep) return; // closed from a 'connection' listener
    }
  }

  /** The address listened on, `{ node, port }`, or null. */
  address(): PortAddress | null {
    return this.#ep && this.#address ? { ...this.#address } : null;
  }

  /**
   * Stops accepting; 'close' follows once every connection has closed. As
   * net's: a callback that is not a function is ignored, and on a server
   * that is not listening 'close' is emitted and the callback gets
   * ERR_SERVER_NOT_RUNNING.
   */
  close(callback?: (err?: Error) => void): this {
    if (typeof callback === 'function') {
      if (!this.#ep) {
        this.once('close', () => callback(simpleError('ERR_SERVER_NOT_RUNNING', 'Server is not running.')));
      } else {
        this.once('close', callback);
      }
    }
    if (this.#ep) {
      this.#ep.close();
      this.#ep = null;
    }
    this.#emitCloseIfDrained();
    return this;
  }

  #emitCloseIfDrained(): void {
    if (this.#ep || this.#connections.size > 0) return;
    process.nextTick(() => this.emit('close'));
  }

  /** As net's: closes the server (if listening) and resolves once it has closed. */
  [Symbol.for('nodejs.asyncDispose')](): Promise<void> {
    if (!this.#ep) return Promise.resolve();
    return new Promise((resolve, reject) => this.close((err) => (err ? reject(err) : resolve())));
  }

  /** As net's: with captureRejections, a rejected 'connection' listener destroys that socket. */
  [Symbol.for('nodejs.rejection')](err: Error, event: string, ...args: unknown[]): void {
    if (event === 'connection') (args[0] as Socket).destroy(err);
    else this.emit('error', err);
  }

  /** Reports the number of open connections. */
  getConnections(callback: (err: Error | null, count: number) => void): this {
    validateFunction(callback, 'callback');
    const n = this.#connections.size;
    process.nextTick(() => callback(null, n));
    return this;
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

/** Server's constructor as exported: it also works without `new`, as net's. */
export interface ServerConstructor {
  new (options?: ServerOptions | ((socket: Socket) => void), onConnection?: (socket: Socket) => void): Server;
  (options?: ServerOptions | ((socket: Socket) => void), onConnection?: (socket: Socket) => void): Server;
  readonly prototype: Server;
}

/** Creates a Server; `onConnection` is added for 'connection'. */
export function createServer(
  options?: ServerOptions | ((socket: Socket) => void),
  onConnection?: (socket: Socket) => void,
): Server {
  return new Server(options, onConnection);
}
