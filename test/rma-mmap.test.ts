// mmap of a peer's window, across two processes: stores through the mapping
// reach the owner's memory and the owner's stores are seen through the
// mapping, both ways round; unmap() detaches the Buffer; a mapping outlives
// the window's unregistration (the window lives until its mmaps let go).
import { afterEach, describe, expect, it } from 'vitest';
import { killFixtures } from './helpers';
import { b64, PAGE, pattern, peerPair, PROVIDER, scif, unb64, until, bound } from './rma-helpers';

afterEach(killFixtures);

describe('mmap of a peer window (two processes)', () => {
  it('this process maps the peer\'s window: loads see the owner\'s bytes, stores reach them; unmap detaches', async () => {
    const { peer, local } = await peerPair();
    const fill = pattern(11, 3 * PAGE);
    const { win, offset } = await peer.call('register', { pages: 3, fill: b64(fill) });

    const m = local.mmap(offset, 3 * PAGE);
    expect(m.buffer.length).toBe(3 * PAGE);
    expect(Buffer.compare(m.buffer, fill)).toBe(0);

    // Our stores land in the owner's memory.
    m.buffer.write('stored by the mapper', 100, 'latin1');
    m.buffer.writeBigUInt64LE(0x0123456789abcdefn, 2 * PAGE + 8);
    m.buffer[3 * PAGE - 1] = 0xee;
    const expected = Buffer.from(fill);
    expected.write('stored by the mapper', 100, 'latin1');
    expected.writeBigUInt64LE(0x0123456789abcdefn, 2 * PAGE + 8);
    expected[3 * PAGE - 1] = 0xee;
    const seen = unb64((await peer.call('dump', { wins: [win] }))[win]);
    expect(Buffer.compare(seen, expected)).toBe(0);

    // The owner's stores are seen through the mapping.
    await peer.call('poke', { win, at: PAGE + 3, data: b64(Buffer.from('stored by the owner')) });
    expect(m.buffer.toString('latin1', PAGE + 3, PAGE + 3 + 19)).toBe('stored by the owner');

    // A mapping of part of the window (its second page).
    const part = local.mmap(offset + PAGE, PAGE, { prot: 'r' });
    expect(part.buffer.toString('latin1', 3, 22)).toBe('stored by the owner');
    part.unmap();
    expect(part.buffer.length).toBe(0);

    m.unmap();
    expect(m.buffer.length).toBe(0);
    expect(m.buffer.byteLength).toBe(0);
    m.unmap(); // idempotent
    // The owner's memory keeps what was stored.
    const after = unb64((await peer.call('dump', { wins: [win] }))[win]);
    expect(after.toString('latin1', 100, 120)).toBe('stored by the mapper');
    await peer.exit();
  });

  it('the peer maps this process\'s window: the same, the other way round', async () => {
    const { peer, local } = await peerPair();
    const mem = scif.alloc(2 * PAGE);
    pattern(12, 2 * PAGE).copy(mem);
    const w = await local.register(mem);

    const { handle, length } = await peer.call('mmap', { ro: w.offset, len: 2 * PAGE });
    expect(length).toBe(2 * PAGE);
    const read = unb64(await peer.call('mread', { handle, at: 0, len: 2 * PAGE }));
    expect(Buffer.compare(read, mem)).toBe(0);

    // The mapper's stores are in our memory once its call returns.
    await peer.call('mwrite', { handle, at: PAGE - 4, data: b64(Buffer.from('across the page boundary')) });
    expect(mem.toString('latin1', PAGE - 4, PAGE + 20)).toBe('across the page boundary');

    // Our stores are seen by the mapper.
    mem.write('owner was here', 0, 'latin1');
    const back = unb64(await peer.call('mread', { handle, at: 0, len: 14 }));
    expect(back.toString('latin1')).toBe('owner was here');

    expect(await peer.call('unmap', { handle })).toEqual({ length: 0 });
    await w.unregister();
    await peer.exit();
  });

  it('a mapping outlives the window\'s unregistration: it still reaches the same memory', async () => {
    const { peer, local } = await peerPair();
    const mem = scif.alloc(PAGE);
    const w = await local.register(mem);
    const { handle } = await peer.call('mmap', { ro: w.offset, len: PAGE });
    await w.unregister();
    // The offset is no longer registered for new mappings or copies ...
    await expect(peer.call('mmap', { ro: w.offset, len: PAGE })).rejects.toMatchObject({ code: 'ENXIO' });
    await expect(peer.call('vwriteTo', { data: b64(Buffer.from('x')), ro: w.offset, opts: {} })).rejects.toMatchObject({
      code: 'ENXIO',
    });
    // ... but the mapping made before still reaches our memory, both ways.
    await peer.call('mwrite', { handle, at: 0, data: b64(Buffer.from('still mapped')) });
    expect(mem.toString('latin1', 0, 12)).toBe('still mapped');
    mem.write('still shared', 16, 'latin1');
    expect(unb64(await peer.call('mread', { handle, at: 16, len: 12 })).toString('latin1')).toBe('still shared');
    await peer.call('unmap', { handle });
    await peer.exit();
  });

  it('stores through a mapping and RMA into the same window agree', async () => {
    const { peer, local } = await peerPair();
    const { win, offset } = await peer.call('register', { pages: 1 });
    const m = local.mmap(offset, PAGE);
    // An RMA from us lands where the mapping sees it ...
    await local.vwriteTo(Buffer.from('written by RMA'), offset + 64, { sync: true });
    expect(m.buffer.toString('latin1', 64, 78)).toBe('written by RMA');
    // ... and a store through the mapping is what an RMA reads.
    m.buffer.write('stored through mmap', 200, 'latin1');
    const back = Buffer.alloc(19);
    await local.vreadFrom(back, offset + 200, { sync: true });
    expect(back.toString('latin1')).toBe('stored through mmap');
    m.unmap();
    const dump = unb64((await peer.call('dump', { wins: [win] }))[win]);
    expect(dump.toString('latin1', 64, 78)).toBe('written by RMA');
    await peer.exit();
  });

  it(`documented provider difference: a window of memory not from scif.alloc (${PROVIDER} provider)`, async () => {
    const { peer, local } = await peerPair();
    const { win, offset } = await peer.call('register', { pages: 1, memory: 'plain', fill: b64(Buffer.from('plain')) });
    if (PROVIDER === 'user') {
      // The user provider can map only shareable (scif.alloc) memory.
      let err: NodeJS.ErrnoException | undefined;
      try {
        local.mmap(offset, PAGE);
      } catch (e) {
        err = e as NodeJS.ErrnoException;
      }
      expect(['EOPNOTSUPP', 'ENOTSUP']).toContain(err?.code);
      expect(err?.syscall).toBe('scif_mmap');
      // RMA to it works all the same.
      const t = Buffer.alloc(5);
      await local.vreadFrom(t, offset, { sync: true });
      expect(t.toString()).toBe('plain');
    } else {
      const m = local.mmap(offset, PAGE);
      expect(m.buffer.toString('latin1', 0, 5)).toBe('plain');
      m.buffer.write('PLAIN', 0, 'latin1');
      const dump = unb64((await peer.call('dump', { wins: [win] }))[win]);
      expect(dump.toString('latin1', 0, 5)).toBe('PLAIN');
      m.unmap();
    }
    await peer.exit();
  });

  it("a window's protection bounds every mapping of it: no read without 'r', no write without 'w'", async () => {
    const { peer, local } = await peerPair();
    const wo = await peer.call('register', { pages: 1, prot: 'w' });
    const ro = await peer.call('register', { pages: 1, prot: 'r', fill: b64(pattern(13, PAGE)) });
    // A write-only window cannot be mapped at all (x86 has no write-only pages).
    for (const prot of ['w', 'rw', 'r'] as const) {
      let code: unknown;
      try {
        local.mmap(wo.offset, PAGE, { prot });
      } catch (e) {
        code = (e as NodeJS.ErrnoException).code;
      }
      expect(code, `mmap prot '${prot}' of a write-only window`).toBe('EACCES');
    }
    // A read-only window maps for reading only.
    let code: unknown;
    try {
      local.mmap(ro.offset, PAGE, { prot: 'rw' });
    } catch (e) {
      code = (e as NodeJS.ErrnoException).code;
    }
    expect(code).toBe('EACCES');
    const m = local.mmap(ro.offset, PAGE, { prot: 'r' });
    expect(Buffer.compare(m.buffer, pattern(13, PAGE))).toBe(0);
    m.unmap();
    await peer.exit();
  });

  it('the owner sees the mapper\'s stores by watching its memory', async () => {
    const { peer, local } = await peerPair();
    const mem = scif.alloc(PAGE);
    const w = await local.register(mem);
    const { handle } = await peer.call('mmap', { ro: w.offset, len: PAGE });
    // The peer stores a flag; we only watch our memory.
    const writing = peer.call('mwrite', { handle, at: 512, data: b64(Buffer.from([1, 2, 3, 4])) });
    await until(() => mem.readUInt32LE(512) === 0x04030201, bound(10_000), 'the store through the mapping');
    await writing;
    await peer.call('unmap', { handle });
    await w.unregister();
    await peer.exit();
  });
});
