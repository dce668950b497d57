// Shared helpers for the conformance suite. Everything here is provider-
// neutral: nodes and ports come from the API, and time appears only as
// generous upper bounds (scaled up in the qemu guest).
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { LINK_AGENT, spawnRemote } from './remote-child';

const require = createRequire(import.meta.url);

/** The package root (what the fixtures require too). */
export const ROOT = path.join(__dirname, '..');

/** The package, loaded as users load it: require('scif') → dist/. */
export const scif = require(ROOT) as typeof import('../lib/index');
export type Socket = import('../lib/socket').Socket;
export type Server = import('../lib/server').Server;

/** True inside the qemu guest (software emulation: everything is slower). */
export const GUEST = !!process.env.SCIF_GUEST;

/** An upper bound of `ms` on the host, scaled up in the guest. Never a timing assertion. */
export function bound(ms: number): number {
  return GUEST ? ms * 20 : ms;
}

/**
 * The node of this process (and of fixtures run with SCIF_NODE=0) and the node of the peer
 * fixtures (SCIF_NODE=1): 0 and 1 in one kernel; on a SCIF link (test/guest/link-node.sh)
 * this kernel's id and the other kernel's, where the peer fixtures run.
 */
export const [NODE0, NODE1] = ((): [number, number] => {
  if (!LINK_AGENT) return [0, 1];
  const { self, nodes } = scif.getNodeIds();
  const other = nodes.find((n) => n !== self);
  if (other === undefined) throw new Error(`SCIF_LINK_AGENT is set but no other node is up: ${nodes}`);
  return [self, other];
})();

const MiB = 1024 * 1024;
/** Bytes each direction for the two-process stream (override: SCIF_TEST_STREAM_MIB). */
export const STREAM_BYTES = (Number(process.env.SCIF_TEST_STREAM_MIB) || (GUEST ? 64 : 1024)) * MiB;
/** Bytes for single-process bulk transfers (pause/resume, backpressure). */
export const BULK_BYTES = (GUEST ? 32 : 64) * MiB;

/** This process's open file descriptors. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Waits (bounded) until the fd count is back to `n`; returns the last count. */
export async function settleFds(n: number, ms = bound(10_000)): Promise<number> {
  const end = Date.now() + ms;
  let now = fdCount();
  while (now !== n && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
    now = fdCount();
  }
  return now;
}

/** Rejects if `p` does not settle within `ms` (an upper bound, not a measurement). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** Resolves with the arguments of the next `event` (rejects on 'error' unless event is 'error' or 'close'). */
export function once<T extends unknown[] = unknown[]>(
  emitter: NodeJS.EventEmitter,
  event: string,
  ms = bound(30_000),
): Promise<T> {
  return within(
    new Promise<T>((resolve, reject) => {
      const onEvent = (...args: unknown[]) => {
        emitter.removeListener('error', onError);
        resolve(args as T);
      };
      const onError = (err: Error) => {
        emitter.removeListener(event, onEvent);
        reject(err);
      };
      emitter.once(event, onEvent);
      if (event !== 'error' && event !== 'close') emitter.once('error', onError);
    }),
    ms,
    `'${event}' event`,
  );
}

/** A listening server on an automatic port; resolves once 'listening'. */
export async function listen(server: Server): Promise<{ node: number; port: number }> {
  server.listen(0);
  await once(server, 'listening');
  const a = server.address();
  if (!a) throw new Error('no address after listening');
  return a;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Fixture {
  child: ChildProcess;
  /** Resolves with the next JSON line on stdout that `pred` accepts. */
  message<T = Record<string, unknown>>(pred?: (m: Record<string, unknown>) => boolean, ms?: number): Promise<T>;
  /** Resolves when the child has exited and its stdio has closed. */
  done: Promise<ChildResult>;
}

export interface FixtureOptions {
  env?: Record<string, string>;
  /** Run the child as uid/gid 65534 (nobody). */
  nobody?: boolean;
  /**
   * A command (and its arguments) the child runs under: `wrap... node fixture args...`. A
   * peer fixture on a SCIF link runs in the other kernel, as always, and without it.
   */
  wrap?: string[];
}

export const NOBODY = 65534;

const running = new Set<ChildProcess>();

/** Kills (SIGKILL) every fixture this process started that is still running: for afterEach. */
export function killFixtures(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
}

/** Spawns test/fixtures/<name> with process.execPath; JSON lines on stdout are messages. */
export function fixture(name: string, args: string[] = [], opts: FixtureOptions = {}): Fixture {
  const spawnOpts: Parameters<typeof spawn>[2] = {
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: ROOT,
  };
  if (opts.nobody) {
    if (process.getuid?.() === 0) {
      spawnOpts.uid = NOBODY;
      spawnOpts.gid = NOBODY;
      spawnOpts.cwd = '/';
    } else if (process.getuid?.() !== NOBODY) {
      throw new Error('this test needs root (to start a process of another uid)');
    }
  }
  // On a SCIF link the peer process (SCIF_NODE=1: "the other node") runs in the other guest.
  const remote = !!LINK_AGENT && opts.env?.SCIF_NODE === '1' && !opts.nobody;
  const command = [...(opts.wrap ?? []), process.execPath, path.join(ROOT, 'test', 'fixtures', name), ...args];
  const child = remote ? spawnRemote(name, args, opts.env ?? {}) : spawn(command[0], command.slice(1), spawnOpts);
  running.add(child);
  child.on('exit', () => running.delete(child));
  let stdout = '';
  let stderr = '';
  let buffered = '';
  const messages: Record<string, unknown>[] = [];
  const waiters: Array<{ pred: (m: Record<string, unknown>) => boolean; resolve: (m: unknown) => void }> = [];
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr += d;
  });
  child.stdout!.on('data', (d: string) => {
    stdout += d;
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(line);
      } catch {
        continue;
      }
      const i = waiters.findIndex((w) => w.pred(m));
      if (i >= 0) waiters.splice(i, 1)[0].resolve(m);
      else messages.push(m);
    }
  });
  const done = new Promise<ChildResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const message = <T>(pred: (m: Record<string, unknown>) => boolean = () => true, ms = bound(60_000)): Promise<T> => {
    const i = messages.findIndex(pred);
    if (i >= 0) return Promise.resolve(messages.splice(i, 1)[0] as T);
    const p = new Promise<T>((resolve, reject) => {
      waiters.push({ pred, resolve: resolve as (m: unknown) => void });
      done.then((r) =>
        reject(new Error(`fixture ${name} ${args.join(" ")} exited (code ${r.code}, signal ${r.signal}) first; stdout:\n${r.stdout.slice(-2000)}\nstderr:\n${r.stderr.slice(-2000)}`)),
      );
    });
    return within(p, ms, `message from fixture ${name}`);
  };
  return { child, message, done };
}
