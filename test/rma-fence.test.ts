// Fences across two processes: a fence signal's value lands only after the
// RMAs it marks. Several copies are issued without `sync`, then a signal;
// whoever watches the value, once it sees it, must find every byte of those
// copies in place. Repeated, with new data and a new value each round.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killFixtures } from './helpers';
import {
  b64,
  bound,
  GUEST,
  PAGE,
  pattern,
  peerPair,
  scif,
  unb64,
  until,
  firstDiff,
  type Peer,
  type Socket,
} from './rma-helpers';

afterAll(killFixtures);

/** Bytes per round (the data), in CHUNKS copies; the signal sits in the page after the data. */
const SIZE = (GUEST ? 256 : 2048) * 1024;
const CHUNKS = 8;
const ROUNDS = GUEST ? 3 : 8;
const CHUNK = SIZE / CHUNKS;

describe('a fence signal lands only after the RMAs it marks (two processes)', () => {
  let peer: Peer;
  let local: Socket;
  /** Ours: SIZE of data, then a page for signals. */
  let mine: { offset: number; buffer: Buffer };
  /** The peer's: the same layout. */
  let theirs: { win: number; offset: number };

  beforeAll(async () => {
    ({ peer, local } = await peerPair());
    const w = await local.register(scif.alloc(SIZE + PAGE));
    mine = { offset: w.offset, buffer: w.buffer };
    theirs = await peer.call('register', { pages: SIZE / PAGE + 1 });
  });
  afterAll(async () => {
    local?.destroy();
    await peer?.exit();
  });

  it('writeTo x N then fenceSignal({remote}): the peer sees the value, then all the data', async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const data = pattern(100 + round, SIZE);
      data.copy(mine.buffer);
      const value = BigInt(round) * 0x1000000001n;
      // The peer watches its signal word from before the copies start.
      const watching = peer.call('awaitSignal', {
        win: theirs.win,
        at: SIZE,
        value: value.toString(),
        ms: bound(30_000),
        check: { win: theirs.win, at: 0, data: b64(data) },
      });
      await peer.call('ping'); // it is watching
      const copies: Promise<void>[] = [];
      for (let i = 0; i < CHUNKS; i++) {
        // Odd chunks by CPU, some ordered: every flag mix except sync.
        copies.push(local.writeTo(mine.offset + i * CHUNK, CHUNK, theirs.offset + i * CHUNK, { cpu: i % 2 === 1, ordered: i % 3 === 0 }));
      }
      await Promise.all(copies);
      await local.fenceSignal({ remote: { offset: theirs.offset + SIZE, value } });
      const { mismatch } = await watching;
      expect(mismatch, `round ${round}: byte ${mismatch} was not there when the signal landed`).toBe(-1);
    }
  });

  it('writeTo x N then fenceSignal({local}): we see our value, then the peer has all the data', async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const data = pattern(200 + round, SIZE);
      data.copy(mine.buffer);
      const value = BigInt(round) + 0xabc00000000n;
      const copies: Promise<void>[] = [];
      for (let i = 0; i < CHUNKS; i++) {
        copies.push(local.writeTo(mine.offset + i * CHUNK, CHUNK, theirs.offset + i * CHUNK));
      }
      await Promise.all(copies);
      await local.fenceSignal({ local: { offset: mine.offset + SIZE + 8, value } });
      await until(() => mine.buffer.readBigUInt64LE(SIZE + 8) === value, bound(30_000), 'the local signal');
      const seen = unb64((await peer.call('dump', { wins: [theirs.win] }))[theirs.win]).subarray(0, SIZE);
      expect(firstDiff(seen, data), `round ${round}`).toBe(-1);
    }
  });

  it('readFrom x N then fenceSignal({local}): when we see our value, our window holds the data', async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const data = pattern(300 + round, SIZE);
      await peer.call('poke', { win: theirs.win, at: 0, data: b64(data) });
      const value = BigInt(round) + 0xdef00000000n;
      const copies: Promise<void>[] = [];
      for (let i = 0; i < CHUNKS; i++) {
        copies.push(local.readFrom(mine.offset + i * CHUNK, CHUNK, theirs.offset + i * CHUNK, { ordered: true }));
      }
      await Promise.all(copies);
      await local.fenceSignal({ local: { offset: mine.offset + SIZE + 16, value } });
      // Watch the memory itself, as a consumer would, checking the data at once.
      await until(() => mine.buffer.readBigUInt64LE(SIZE + 16) === value, bound(30_000), 'the local signal');
      expect(firstDiff(mine.buffer.subarray(0, SIZE), data), `round ${round}`).toBe(-1);
    }
  });

  it('the peer writes x N; we signal with {peer: true, local}: when we see it, our window holds the data', async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const data = pattern(400 + round, SIZE);
      await peer.call('poke', { win: theirs.win, at: 0, data: b64(data) });
      // The peer issues its copies into our window (not sync) and returns once they are issued.
      const results: string[] = await peer.call('flood', {
        kind: 'writeTo',
        count: CHUNKS,
        lo: theirs.offset,
        ro: mine.offset,
        len: CHUNK,
        step: CHUNK,
        opts: {},
        await: true,
      });
      expect(results).toEqual(Array(CHUNKS).fill('ok'));
      const value = BigInt(round) + 0x5eed00000000n;
      await local.fenceSignal({ peer: true, local: { offset: mine.offset + SIZE + 24, value } });
      await until(() => mine.buffer.readBigUInt64LE(SIZE + 24) === value, bound(30_000), 'the signal on the peer\'s RMAs');
      expect(firstDiff(mine.buffer.subarray(0, SIZE), data), `round ${round}`).toBe(-1);
    }
  });

  it('fenceMark + fenceWait, self and peer: once the wait resolves, the data is there', async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      // Ours into the peer's window, fenced by our own mark.
      const data = pattern(500 + round, SIZE);
      data.copy(mine.buffer);
      const copies: Promise<void>[] = [];
      for (let i = 0; i < CHUNKS; i++) copies.push(local.writeTo(mine.offset + i * CHUNK, CHUNK, theirs.offset + i * CHUNK));
      await Promise.all(copies);
      await local.fenceWait(await local.fenceMark());
      const seen = unb64((await peer.call('dump', { wins: [theirs.win] }))[theirs.win]).subarray(0, SIZE);
      expect(firstDiff(seen, data), `round ${round} (self)`).toBe(-1);

      // The peer's into ours, fenced by our peer mark.
      const back = pattern(600 + round, SIZE);
      await peer.call('poke', { win: theirs.win, at: 0, data: b64(back) });
      await peer.call('flood', {
        kind: 'writeTo',
        count: CHUNKS,
        lo: theirs.offset,
        ro: mine.offset,
        len: CHUNK,
        step: CHUNK,
        opts: {},
        await: true,
      });
      await local.fenceWait(await local.fenceMark({ peer: true }));
      expect(firstDiff(mine.buffer.subarray(0, SIZE), back), `round ${round} (peer)`).toBe(-1);
    }
  });
});
