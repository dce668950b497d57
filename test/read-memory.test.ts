// Stream reads land in recycled memory (native/read_slabs.h, lib/pool.ts):
// a read's slab is reused once no view of it is left, never before, and
// each environment (worker) has its own pool.
import { afterEach, describe, expect, it } from 'vitest';
import { bound, fixture, killFixtures, within } from './helpers';

afterEach(killFixtures);

interface Stats {
  out: number;
  free: number;
  made: number;
  reused: number;
  trimmed: number;
}
interface Result {
  got: number;
  bad: number;
  kept: number;
  keptBytes: number;
  keptBad: number;
  before: Stats;
  after: Stats;
}

async function runFixture<T>(args: string[]): Promise<T> {
  const child = fixture('read-slabs.js', args);
  const m = await child.message<{ result?: T; error?: string }>((x) => 'result' in x || 'error' in x, bound(120_000));
  expect(m.error).toBeUndefined();
  const r = await within(child.done, bound(30_000), 'read-slabs.js exits');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return m.result as T;
}

describe('read memory', () => {
  it("a 'data' reader that drops its chunks reads mostly into recycled memory", async () => {
    const r = await runFixture<Result>(['recycle', '128']);
    expect(r.got).toBe(128 * 2 ** 20);
    expect(r.bad).toBe(0);
    expect(r.before.made).toBe(0);
    // Most reads were served from a free list, not from new memory.
    expect(r.after.reused).toBeGreaterThan(r.after.made);
    expect(r.after.out + r.after.free).toBeLessThanOrEqual(r.after.made);
  }, bound(180_000));

  it('a kept chunk (even one kept only through a view of chunk.buffer) is never read into again', async () => {
    const r = await runFixture<Result>(['keep', '128']);
    expect(r.got).toBe(128 * 2 ** 20);
    expect(r.bad).toBe(0);
    expect(r.kept).toBeGreaterThan(10);
    // Memory was recycled while the kept chunks lived ...
    expect(r.after.reused).toBeGreaterThan(0);
    // ... and none of them changed.
    expect(r.keptBad).toBe(0);
  }, bound(180_000));

  it('a worker has its own pool, and exits holding chunks of it without harm to the main thread', async () => {
    const r = await runFixture<{ fromWorker: Result; exitCode: number; main: Result }>(['worker', '32']);
    expect(r.exitCode).toBe(0);
    expect(r.fromWorker.bad).toBe(0);
    expect(r.fromWorker.keptBad).toBe(0);
    expect(r.fromWorker.after.made).toBeGreaterThan(0);
    // The main thread's pool is not the worker's.
    expect(r.main.before.made).toBe(0);
    expect(r.main.got).toBe(32 * 2 ** 20);
    expect(r.main.bad).toBe(0);
  }, bound(180_000));
});
