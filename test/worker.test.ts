// worker_threads: the addon loads per environment; a worker's endpoints are
// its own, and terminating a worker closes them without harming the main thread.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { killFixtures, bound, fixture, once, ROOT, scif, within } from './helpers';

afterEach(killFixtures);

const WORKER = path.join(ROOT, 'test', 'fixtures', 'worker.js');

describe('worker_threads', () => {
  it('a worker runs an echo exchange and posts the result', async () => {
    const message = 'hello from a worker '.repeat(1000);
    const worker = new Worker(WORKER, { workerData: { mode: 'echo', message } });
    const [result] = await once<[Record<string, unknown>]>(worker, 'message', bound(60_000));
    expect(result).toMatchObject({ got: message, hadError: false, bytesRead: message.length, bytesWritten: message.length });
    expect(result.nodeIds).toEqual(scif.getNodeIds());
    const [code] = await once<[number]>(worker, 'exit', bound(60_000));
    expect(code).toBe(0);
  });

  it('terminating a worker with open sockets and a server leaves the main thread fine', async () => {
    // The main thread is a child process's, so that a crash in worker
    // teardown fails this test instead of killing the test runner.
    const child = fixture('worker-main.js');
    const m = await child.message<{
      exitCode: number;
      fromWorker: { remotePort: number; toMain: number; events: string[] };
      lateError: string;
      echo: string;
      fdsBefore: number;
      fdsAfter: number;
      error?: string;
    }>(() => true, bound(60_000));
    expect(m.error).toBeUndefined();
    expect(m.exitCode).toBe(1);
    // Our end of the worker's connection saw the worker's endpoint go.
    expect(m.fromWorker.remotePort).toBe(m.fromWorker.toMain);
    expect(m.fromWorker.events[0]).toBe('data:from the worker');
    expect(m.fromWorker.events[1]).toMatch(/^(end|error:ECONNRESET)$/);
    // The worker's server is gone; the main thread still works and has
    // closed every fd the worker opened.
    expect(m.lateError).toBe('ECONNREFUSED');
    expect(m.echo).toBe('still fine');
    expect(m.fdsAfter).toBe(m.fdsBefore);
    const r = await within(child.done, bound(30_000), 'worker-main.js exits');
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
  });
});
