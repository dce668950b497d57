// Node-style errors: system errors carry code/errno/syscall like net's, and
// argument errors carry ERR_* codes like Node's own validators.
import { getSystemErrorName, inspect } from 'node:util';

/** An error from SCIF or the OS, shaped like Node's system errors. */
export interface ScifError extends Error {
  /** Symbolic errno name, e.g. 'ECONNREFUSED'. */
  code: string;
  /** Negative errno, as Node reports it. */
  errno: number;
  /** The SCIF operation that failed, e.g. 'scif_connect'. */
  syscall: string;
  /** The node and port involved, where there is one. */
  node?: number;
  port?: number;
}

export function errnoException(
  errno: number,
  syscall: string,
  where?: { node: number; port: number },
): ScifError {
  let code: string;
  try {
    code = getSystemErrorName(errno);
  } catch {
    code = `Unknown system error ${errno}`;
  }
  const suffix = where ? ` ${where.node}:${where.port}` : '';
  const err = new Error(`${syscall} ${code}${suffix}`) as ScifError;
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  if (where) {
    err.node = where.node;
    err.port = where.port;
  }
  return err;
}

/** An argument error with a Node-style `code`. */
export interface CodedError extends Error {
  code: string;
}

function coded<E extends Error>(err: E, code: string): E & CodedError {
  const e = err as E & CodedError;
  e.code = code;
  // Node prints "TypeError [ERR_X]: ..." — keep that in the stack's header.
  e.stack = e.stack?.replace(/^(\w+):/, `$1 [${code}]:`);
  return e;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${(value as { name?: string }).name || '<anonymous>'}`;
  if (typeof value === 'object') return ` Received ${inspect(value, { depth: -1 })}`;
  return ` Received type ${typeof value} (${inspect(value)})`;
}

export function invalidArgType(name: string, expected: string, actual: unknown): TypeError & CodedError {
  return coded(new TypeError(`The "${name}" argument must be ${expected}.${describe(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

export function invalidArgValue(name: string, value: unknown, reason: string): TypeError & CodedError {
  return coded(new TypeError(`The argument '${name}' ${reason}. Received ${inspect(value)}`), 'ERR_INVALID_ARG_VALUE');
}

export function outOfRange(name: string, range: string, value: unknown): RangeError & CodedError {
  return coded(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${inspect(value)}`),
    'ERR_OUT_OF_RANGE',
  );
}

export function badPort(name: string, value: unknown, allowZero: boolean): RangeError & CodedError {
  return coded(
    new RangeError(`${name} should be >= ${allowZero ? 0 : 1} and < 65536. Received ${inspect(value)}.`),
    'ERR_SOCKET_BAD_PORT',
  );
}

export function missingArgs(message: string): TypeError & CodedError {
  return coded(new TypeError(message), 'ERR_MISSING_ARGS');
}

export function simpleError(code: string, message: string): Error & CodedError {
  return coded(new Error(message), code);
}

// Validators -----------------------------------------------------------------

export function validateInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

export function validatePort(value: unknown, name: string, allowZero: boolean): number {
  if (typeof value !== 'number' && typeof value !== 'string') throw invalidArgType(name, 'of type number', value);
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
    throw badPort(name === 'port' ? 'Port' : name, value, allowZero);
  }
  return n;
}

export function validateFunction(value: unknown, name: string): void {
  if (typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
}

export function validateObject(value: unknown, name: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value);
  }
}
