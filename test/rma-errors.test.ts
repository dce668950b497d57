// RMA error paths and scif.alloc: argument errors throw synchronously
// (ERR_* codes) before reaching native code; SCIF's own errors reject the
// promise with err.code/err.syscall as scif_register etc. report them.
import { constants as osConstants } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killFixtures } from './helpers';
import {
  expectCode,
  expectThrow,
  PAGE,
  pair,
  pattern,
  peerPair,
  PROVIDER,
  scif,
  plainPages,
  until,
  bound,
  type Pair,
  type Socket,
} from './rma-helpers';

afterEach(killFixtures);

describe('scif.alloc', () => {
  it('returns a zeroed Buffer of whole pages, rounded up', () => {
    for (const [asked, got] of [
      [1, PAGE],
      [PAGE - 1, PAGE],
      [PAGE, PAGE],
      [PAGE + 1, 2 * PAGE],
      [3 * PAGE, 3 * PAGE],
      [1024 * 1024 + 5, 1024 * 1024 + PAGE],
    ]) {
      const b = scif.alloc(asked);
      expect(Buffer.isBuffer(b)).toBe(true);
      expect(b.length).toBe(got);
      expect(b.byteOffset).toBe(0);
      expect(b.buffer.byteLength).toBe(got);
      expect(b.every((x) => x === 0)).toBe(true);
      b.fill(0xa5); // writable
      expect(b[got - 1]).toBe(0xa5);
    }
  });

  it('separate calls return separate memory', () => {
    const x = scif.alloc(PAGE);
    const y = scif.alloc(PAGE);
    x.fill(1);
    expect(y[0]).toBe(0);
  });

  it('bad lengths throw', () => {
    for (const bad of [0, -1, -PAGE, 1.5, Number.NaN, Infinity, 2 ** 53]) {
      expectThrow(() => scif.alloc(bad), 'ERR_OUT_OF_RANGE', RangeError);
    }
    for (const bad of ['4096', undefined, null, {}, 4096n]) {
      expectThrow(() => scif.alloc(bad as unknown as number), 'ERR_INVALID_ARG_TYPE', TypeError);
    }
  });
});

describe('RMA error paths (one process)', () => {
  let p: Pair;
  beforeAll(async () => {
    p = await pair();
  });
  afterAll(async () => {
    await p.close();
  });

  it('register: a length that is not whole pages throws ERR_INVALID_ARG_VALUE', () => {
    const mem = scif.alloc(2 * PAGE);
    for (const len of [1, PAGE - 1, PAGE + 1, 2 * PAGE - 8]) {
      expectThrow(() => p.a.register(mem.subarray(0, len)), 'ERR_INVALID_ARG_VALUE');
    }
    expectThrow(() => p.a.register(mem.subarray(0, 0)), 'ERR_INVALID_ARG_VALUE');
  });

  it('register: not a Buffer throws ERR_INVALID_ARG_TYPE', () => {
    for (const bad of [undefined, null, 42, 'x', {}, new ArrayBuffer(PAGE)]) {
      expectThrow(() => p.a.register(bad as unknown as Buffer), 'ERR_INVALID_ARG_TYPE');
    }
  });

  it('register: memory that is not page aligned rejects with EINVAL from scif_register', async () => {
    const mem = scif.alloc(3 * PAGE);
    for (const at of [1, 8, 64, PAGE / 2, PAGE - 1]) {
      await expectCode(p.a.register(mem.subarray(at, at + 2 * PAGE)), 'EINVAL', 'scif_register');
    }
    expect(p.a.windows).toHaveLength(0);
    // ... while a page-aligned slice of the same memory registers.
    const w = await p.a.register(mem.subarray(PAGE, 3 * PAGE));
    expect(w.length).toBe(2 * PAGE);
    await w.unregister();
  });

  it('register: a fixed offset that is not page aligned, or negative, throws', () => {
    const mem = scif.alloc(PAGE);
    for (const offset of [1, PAGE / 2, PAGE + 4, 3 * PAGE - 1]) {
      expectThrow(() => p.a.register(mem, { fixed: true, offset }), 'ERR_INVALID_ARG_VALUE');
    }
    expectThrow(() => p.a.register(mem, { fixed: true, offset: -PAGE }), 'ERR_OUT_OF_RANGE', RangeError);
    expectThrow(() => p.a.register(mem, { fixed: true, offset: 1.5 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectThrow(() => p.a.register(mem, { fixed: true }), 'ERR_INVALID_ARG_TYPE');
  });

  it('register: a bad prot throws', () => {
    const mem = scif.alloc(PAGE);
    for (const prot of ['', 'x', 'rx', 'R', 'wr', 3, 0, null]) {
      expectThrow(() => p.a.register(mem, { prot: prot as unknown as 'r' }), 'ERR_INVALID_ARG_VALUE');
    }
  });

  it('register: a fixed window overlapping another rejects with EADDRINUSE', async () => {
    const base = 64 * PAGE;
    const w = await p.a.register(scif.alloc(3 * PAGE), { fixed: true, offset: base });
    expect(w.offset).toBe(base);
    for (const [at, pages] of [
      [base, 1],
      [base + PAGE, 1],
      [base + 2 * PAGE, 4],
      [base - PAGE, 2],
      [base - 4 * PAGE, 10],
    ]) {
      await expectCode(
        p.a.register(scif.alloc(pages * PAGE), { fixed: true, offset: at }),
        'EADDRINUSE',
        'scif_register',
      );
    }
    // Adjacent on both sides is fine.
    const before = await p.a.register(scif.alloc(PAGE), { fixed: true, offset: base - PAGE });
    const after = await p.a.register(scif.alloc(PAGE), { fixed: true, offset: base + 3 * PAGE });
    expect([before.offset, after.offset]).toEqual([base - PAGE, base + 3 * PAGE]);
    // A non-fixed registration never lands on a window.
    const free = await p.a.register(scif.alloc(2 * PAGE));
    expect(free.offset % PAGE).toBe(0);
    for (const x of [w, before, after]) {
      expect(free.offset + free.length <= x.offset || x.offset + x.length <= free.offset).toBe(true);
    }
    await p.a.unregister(base - PAGE, 5 * PAGE);
    await free.unregister();
    expect(p.a.windows).toHaveLength(0);
  });

  it('unregister: a range cutting through a window rejects with EINVAL and unregisters nothing', async () => {
    const base = 128 * PAGE;
    const w = await p.a.register(scif.alloc(4 * PAGE), { fixed: true, offset: base });
    const next = await p.a.register(scif.alloc(PAGE), { fixed: true, offset: base + 4 * PAGE });
    for (const [at, len] of [
      [base, PAGE],
      [base + PAGE, PAGE],
      [base + PAGE, 3 * PAGE],
      [base, 3 * PAGE],
      [base - PAGE, 2 * PAGE],
      [base + 3 * PAGE, 2 * PAGE], // the whole of `next`, but part of `w`
    ]) {
      await expectCode(p.a.unregister(at, len), 'EINVAL', 'scif_unregister');
    }
    // Nothing was unregistered: both windows still take copies.
    const src = pattern(1, 5 * PAGE);
    await p.b.register(scif.alloc(5 * PAGE), { fixed: true, offset: 0 }).then((lw) => src.copy(lw.buffer));
    await p.b.writeTo(0, 5 * PAGE, base, { sync: true });
    expect(Buffer.compare(w.buffer, src.subarray(0, 4 * PAGE))).toBe(0);
    expect(Buffer.compare(next.buffer, src.subarray(4 * PAGE))).toBe(0);
    await p.a.unregister(base, 5 * PAGE);
    await p.b.unregister(0, 5 * PAGE);
  });

  it('unregister: nothing registered there rejects with ENXIO', async () => {
    await expectCode(p.a.unregister(512 * PAGE, PAGE), 'ENXIO', 'scif_unregister');
    const w = await p.a.register(scif.alloc(PAGE), { fixed: true, offset: 512 * PAGE });
    await expectCode(p.a.unregister(513 * PAGE, 2 * PAGE), 'ENXIO', 'scif_unregister');
    await expectCode(p.a.unregister(511 * PAGE, PAGE), 'ENXIO', 'scif_unregister');
    await w.unregister();
    // A window unregistered twice.
    await expectCode(w.unregister(), 'ENXIO', 'scif_unregister');
    await expectCode(p.a.unregister(512 * PAGE, PAGE), 'ENXIO', 'scif_unregister');
  });

  it('unregister: bad arguments throw', () => {
    expectThrow(() => p.a.unregister(-PAGE, PAGE), 'ERR_OUT_OF_RANGE', RangeError);
    expectThrow(() => p.a.unregister(0, 0), 'ERR_OUT_OF_RANGE', RangeError);
    expectThrow(() => p.a.unregister('0' as unknown as number, PAGE), 'ERR_INVALID_ARG_TYPE');
  });

  describe('copies', () => {
    const L = 256 * PAGE; // a's local window
    const R = 320 * PAGE; // b's windows: R 'rw', R+P 'r', R+2P 'w'
    let ws: Array<{ unregister(): Promise<void> }> = [];
    beforeAll(async () => {
      ws = [
        await p.a.register(scif.alloc(2 * PAGE), { fixed: true, offset: L }),
        await p.b.register(scif.alloc(PAGE), { fixed: true, offset: R, prot: 'rw' }),
        await p.b.register(scif.alloc(PAGE), { fixed: true, offset: R + PAGE, prot: 'r' }),
        await p.b.register(scif.alloc(PAGE), { fixed: true, offset: R + 2 * PAGE, prot: 'w' }),
      ];
    });
    afterAll(async () => {
      for (const w of ws) await w.unregister();
    });

    it('to or from an unregistered range rejects with ENXIO', async () => {
      const buf = Buffer.alloc(64);
      for (const sync of [false, true]) {
        // The remote range is not registered (wholly, or its tail).
        await expectCode(p.a.writeTo(L, 64, 900 * PAGE, { sync }), 'ENXIO', 'scif_writeto');
        await expectCode(p.a.readFrom(L, 64, 900 * PAGE, { sync }), 'ENXIO', 'scif_readfrom');
        await expectCode(p.a.writeTo(L, 2 * PAGE, R + 2 * PAGE, { sync }), 'ENXIO', 'scif_writeto');
        await expectCode(p.a.vwriteTo(buf, R - 32, { sync }), 'ENXIO', 'scif_vwriteto');
        await expectCode(p.a.vreadFrom(buf, R - 1, { sync }), 'ENXIO', 'scif_vreadfrom');
        await expectCode(p.a.vwriteTo(buf, R + 3 * PAGE - 8, { sync }), 'ENXIO', 'scif_vwriteto');
        // The local range is not registered.
        await expectCode(p.a.writeTo(900 * PAGE, 64, R, { sync }), 'ENXIO', 'scif_writeto');
        await expectCode(p.a.readFrom(L + 2 * PAGE - 8, 64, R, { sync }), 'ENXIO', 'scif_readfrom');
      }
    });

    it("writeTo into a window the peer registered 'r' rejects with EACCES", async () => {
      await expectCode(p.a.writeTo(L, 64, R + PAGE, { sync: true }), 'EACCES', 'scif_writeto');
      await expectCode(p.a.writeTo(L, 64, R + PAGE), 'EACCES', 'scif_writeto');
      await expectCode(p.a.vwriteTo(Buffer.alloc(8), R + PAGE + 8, { cpu: true }), 'EACCES', 'scif_vwriteto');
      // A range over 'rw' then 'r'.
      await expectCode(p.a.writeTo(L, 2 * PAGE, R, { sync: true }), 'EACCES', 'scif_writeto');
    });

    it("readFrom a window the peer registered 'w' rejects with EACCES", async () => {
      await expectCode(p.a.readFrom(L, 64, R + 2 * PAGE, { sync: true }), 'EACCES', 'scif_readfrom');
      await expectCode(p.a.readFrom(L, 64, R + 2 * PAGE), 'EACCES', 'scif_readfrom');
      await expectCode(p.a.vreadFrom(Buffer.alloc(8), R + 2 * PAGE, { cpu: true }), 'EACCES', 'scif_vreadfrom');
      await expectCode(p.a.readFrom(L, PAGE + 1, R + PAGE, { sync: true }), 'EACCES', 'scif_readfrom');
    });

    it('the allowed directions work on the same windows', async () => {
      await p.a.writeTo(L, 64, R + 2 * PAGE, { sync: true });
      await p.a.readFrom(L, 64, R + PAGE, { sync: true });
      await p.a.writeTo(L, PAGE, R, { sync: true });
      await p.a.readFrom(L, 2 * PAGE, R, { sync: true });
    });

    it('bad copy arguments throw', () => {
      expectThrow(() => p.a.writeTo(-1, 64, R), 'ERR_OUT_OF_RANGE', RangeError);
      expectThrow(() => p.a.writeTo(L, 0, R), 'ERR_OUT_OF_RANGE', RangeError);
      expectThrow(() => p.a.readFrom(L, 64, -4), 'ERR_OUT_OF_RANGE', RangeError);
      expectThrow(() => p.a.readFrom(L, 1.5, R), 'ERR_OUT_OF_RANGE', RangeError);
      expectThrow(() => p.a.writeTo(L, 64, R, 'sync' as never), 'ERR_INVALID_ARG_TYPE');
      expectThrow(() => p.a.vwriteTo(Buffer.alloc(0), R), 'ERR_INVALID_ARG_VALUE');
      expectThrow(() => p.a.vreadFrom('abc' as never, R), 'ERR_INVALID_ARG_TYPE');
      expectThrow(() => p.a.vreadFrom(Buffer.alloc(4), -1), 'ERR_OUT_OF_RANGE', RangeError);
    });
  });

  describe('fences', () => {
    // Marks are opaque 32-bit integers: SCIF marks the peer's RMAs with bit 31
    // set, so a mark may be negative; anything outside int32 is not a mark.
    it('fenceWait with a mark outside the 32-bit range, or not an integer, throws RangeError', () => {
      expectThrow(() => p.a.fenceWait(-(2 ** 31) - 1), 'ERR_OUT_OF_RANGE', RangeError);
      expectThrow(() => p.a.fenceWait(0.5), 'ERR_OUT_OF_RANGE', RangeError);
      expectThrow(() => p.a.fenceWait(2 ** 31), 'ERR_OUT_OF_RANGE', RangeError);
      expectThrow(() => p.a.fenceWait('1' as never), 'ERR_INVALID_ARG_TYPE');
    });

    it('fenceMark resolves to a 32-bit integer mark that fenceWait accepts, self and peer', async () => {
      for (const peer of [false, true]) {
        const mark = await p.a.fenceMark({ peer });
        expect(Number.isInteger(mark)).toBe(true);
        expect(mark).toBe(mark | 0);
        await p.a.fenceWait(mark);
      }
      expectThrow(() => p.a.fenceMark(42 as never), 'ERR_INVALID_ARG_TYPE');
    });

    it('fenceSignal with an offset that is not a multiple of 4 throws', () => {
      for (const offset of [1, 2, 3, 6, PAGE + 2]) {
        expectThrow(() => p.a.fenceSignal({ local: { offset, value: 1 } }), 'ERR_INVALID_ARG_VALUE');
        expectThrow(() => p.a.fenceSignal({ remote: { offset, value: 1 } }), 'ERR_INVALID_ARG_VALUE');
      }
    });

    it('fenceSignal with neither local nor remote throws', () => {
      expectThrow(() => p.a.fenceSignal({}), 'ERR_INVALID_ARG_VALUE');
      expectThrow(() => p.a.fenceSignal({ peer: true }), 'ERR_INVALID_ARG_VALUE');
      expectThrow(() => p.a.fenceSignal(undefined as never), 'ERR_INVALID_ARG_TYPE');
    });

    it('fenceSignal with a bad value throws', () => {
      for (const value of [-1, 1.5, 2 ** 53, -1n, 2n ** 64n]) {
        expectThrow(() => p.a.fenceSignal({ local: { offset: 0, value } }), 'ERR_OUT_OF_RANGE', RangeError);
      }
      expectThrow(() => p.a.fenceSignal({ local: { offset: 0, value: '1' as never } }), 'ERR_INVALID_ARG_TYPE');
      expectThrow(() => p.a.fenceSignal({ local: { offset: -4, value: 1 } }), 'ERR_OUT_OF_RANGE', RangeError);
    });

    it('fenceSignal to an unregistered offset rejects with ENXIO', async () => {
      await expectCode(p.a.fenceSignal({ local: { offset: 1000 * PAGE, value: 1 } }), 'ENXIO', 'scif_fence_signal');
      await expectCode(p.a.fenceSignal({ remote: { offset: 1000 * PAGE, value: 1 } }), 'ENXIO', 'scif_fence_signal');
    });

    it('fenceSignal writes 64-bit values, bigint or number', async () => {
      const la = await p.a.register(scif.alloc(PAGE), { fixed: true, offset: 2000 * PAGE });
      const lb = await p.b.register(scif.alloc(PAGE), { fixed: true, offset: 3000 * PAGE });
      await p.a.fenceSignal({
        local: { offset: la.offset + 8, value: 0xfedcba9876543210n },
        remote: { offset: lb.offset + 4, value: Number.MAX_SAFE_INTEGER },
      });
      // The value lands once the (empty) marked set completes: soon, not necessarily at once.
      await until(() => la.buffer.readBigUInt64LE(8) === 0xfedcba9876543210n, bound(10_000), 'the local signal');
      await until(() => lb.buffer.readBigUInt64LE(4) === BigInt(Number.MAX_SAFE_INTEGER), bound(10_000), 'the remote signal');
      await la.unregister();
      await lb.unregister();
    });
  });

  describe('mmap', () => {
    it('bad arguments throw', () => {
      expectThrow(() => p.a.mmap(1, PAGE), 'ERR_INVALID_ARG_VALUE');
      expectThrow(() => p.a.mmap(0, PAGE + 1), 'ERR_INVALID_ARG_VALUE');
      expectThrow(() => p.a.mmap(0, 0), 'ERR_OUT_OF_RANGE', RangeError);
      expectThrow(() => p.a.mmap(0, PAGE, { prot: 'x' as never }), 'ERR_INVALID_ARG_VALUE');
    });

    it('an unregistered range throws ENXIO', () => {
      let err: NodeJS.ErrnoException | undefined;
      try {
        p.a.mmap(4000 * PAGE, PAGE);
      } catch (e) {
        err = e as NodeJS.ErrnoException;
      }
      expect(err?.code).toBe('ENXIO');
      expect(err?.syscall).toBe('scif_mmap');
    });
  });
});

describe('RMA on a socket that is not connected', () => {
  /** Every RMA call on `s`, each turned into a settled promise (a synchronous throw counts as a rejection). */
  function everyCall(s: Socket): Array<[string, () => unknown]> {
    const mem = scif.alloc(PAGE);
    return [
      ['register', () => s.register(mem)],
      ['unregister', () => s.unregister(0, PAGE)],
      ['writeTo', () => s.writeTo(0, 8, 0)],
      ['readFrom', () => s.readFrom(0, 8, 0)],
      ['vwriteTo', () => s.vwriteTo(Buffer.alloc(8), 0)],
      ['vreadFrom', () => s.vreadFrom(Buffer.alloc(8), 0)],
      ['fenceMark', () => s.fenceMark()],
      ['fenceWait', () => s.fenceWait(0)],
      ['fenceSignal', () => s.fenceSignal({ local: { offset: 0, value: 1 } })],
    ];
  }

  /** Runs every call; returns how each failed: [name, code, 'threw' | 'rejected' | 'resolved']. */
  async function outcomes(s: Socket): Promise<Array<[string, string | undefined, string]>> {
    const r: Array<[string, string | undefined, string]> = [];
    for (const [name, call] of everyCall(s)) {
      let result: unknown;
      try {
        result = call();
      } catch (err) {
        r.push([name, (err as NodeJS.ErrnoException).code, 'threw']);
        continue;
      }
      try {
        await result;
        r.push([name, undefined, 'resolved']);
      } catch (err) {
        r.push([name, (err as NodeJS.ErrnoException).code, 'rejected']);
      }
    }
    return r;
  }

  async function expectNotConnected(s: Socket, codes: string[]): Promise<void> {
    for (const [name, code, how] of await outcomes(s)) {
      expect(how, name).not.toBe('resolved');
      expect(codes, `${name} ${how} with ${code}`).toContain(code);
    }
    // mmap is synchronous: it throws.
    let err: NodeJS.ErrnoException | undefined;
    try {
      s.mmap(0, PAGE);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(codes).toContain(err?.code);
  }

  it('a new Socket (never connected): ENOTCONN', async () => {
    await expectNotConnected(new scif.Socket(), ['ENOTCONN']);
  });

  it('a Socket after destroy(): ENOTCONN', async () => {
    const p = await pair();
    await p.close();
    await expectNotConnected(p.a, ['ENOTCONN']);
    await expectNotConnected(p.b, ['ENOTCONN']);
  });

  it('the Promise-returning calls reject (they do not throw) with ENOTCONN', async () => {
    // Operational errors reach a caller of a Promise-returning method as a
    // rejection; only bad arguments throw (DESIGN: "all Promise-returning").
    const p = await pair();
    await p.close();
    for (const s of [new scif.Socket(), p.a]) {
      const threw = (await outcomes(s)).filter(([, , how]) => how === 'threw').map(([name]) => name);
      expect(threw, 'these threw ENOTCONN synchronously instead of rejecting').toEqual([]);
    }
  });

  it('a Socket whose peer has gone: ENOTCONN or ECONNRESET', async () => {
    const { peer, local } = await peerPair();
    const w = await local.register(scif.alloc(PAGE));
    local.resume();
    const gone = new Promise((r) => local.once('close', r));
    await peer.exit();
    await gone;
    await expectNotConnected(local, ['ENOTCONN', 'ECONNRESET']);
    await expectCode(w.unregister(), 'ENOTCONN');
  });
});

describe('windows list', () => {
  it('socket.windows tracks registrations and unregistrations', async () => {
    const p = await pair();
    const w1 = await p.a.register(scif.alloc(PAGE));
    const w2 = await p.a.register(scif.alloc(2 * PAGE), { prot: 'r' });
    expect(p.a.windows).toEqual(expect.arrayContaining([w1, w2]));
    expect(p.a.windows).toHaveLength(2);
    expect(p.b.windows).toHaveLength(0);
    expect(w2.length).toBe(2 * PAGE);
    await w1.unregister();
    expect(p.a.windows).toEqual([w2]);
    await p.a.unregister(w2.offset, w2.length);
    expect(p.a.windows).toEqual([]);
    await p.close();
  });

  it('a Window unregistered by range is dead: its unregister() rejects with ENXIO and leaves a newer window at its offset alone', async () => {
    const p = await pair();
    const old = await p.a.register(scif.alloc(PAGE), { fixed: true, offset: 10 * PAGE });
    await p.a.unregister(10 * PAGE, PAGE);
    expect(p.a.windows).toEqual([]);
    // A new window takes the same offset.
    const fresh = await p.a.register(scif.alloc(PAGE), { fixed: true, offset: 10 * PAGE });
    // The old Window object no longer stands for any window.
    await expectCode(old.unregister(), 'ENXIO', 'scif_unregister');
    // ... and the new one is still registered.
    expect(p.a.windows).toEqual([fresh]);
    await p.b.vwriteTo(Buffer.from('still here'), 10 * PAGE, { sync: true });
    expect(fresh.buffer.toString('latin1', 0, 10)).toBe('still here');
    await fresh.unregister();
    await p.close();
  });

  it(`documented provider difference: mmap of memory not from scif.alloc (${PROVIDER} provider)`, async () => {
    const p = await pair();
    const plain = plainPages(2);
    const w = await p.a.register(plain);
    plain.write('plain memory', 0);
    if (PROVIDER === 'user') {
      let err: NodeJS.ErrnoException | undefined;
      try {
        p.b.mmap(w.offset, PAGE);
      } catch (e) {
        err = e as NodeJS.ErrnoException;
      }
      // EOPNOTSUPP: Linux's ENOTSUP is the same errno (95), and Node names it 'ENOTSUP'.
      expect(err?.errno).toBe(-osConstants.errno.EOPNOTSUPP);
      expect(['EOPNOTSUPP', 'ENOTSUP']).toContain(err?.code);
      expect(err?.syscall).toBe('scif_mmap');
    } else {
      const m = p.b.mmap(w.offset, 2 * PAGE);
      expect(m.buffer.toString('latin1', 0, 12)).toBe('plain memory');
      m.unmap();
    }
    await w.unregister();
    await p.close();
  });
});
