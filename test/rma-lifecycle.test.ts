// RMA lifecycles across two processes: unregistering a window while the
// peer's copies into it are in flight, and a peer killed (SIGKILL) with
// windows registered and RMAs in flight on both sides.
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { fdCount, fixture, killFixtures, settleFds, within } from './helpers';
import { LINK_AGENT } from './remote-child';
import {
  b64,
  bound,
  firstDiff,
  GUEST,
  PAGE,
  pattern,
  peerPair,
  scif,
  startPeer,
  unb64,
  until,
  type Socket,
} from './rma-helpers';

afterEach(killFixtures);

/** The window the peer copies into, in a loop. */
const SIZE = (GUEST ? 256 : 2048) * 1024;

/** A process's state letter from /proc/<pid>/stat ('Z': zombie), or 'gone'. */
function procState(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\) /, '')[0];
  } catch {
    return 'gone';
  }
}

/** How many threads of a process are left (0 once it is gone). */
function threadCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

/** Calls `f`; a synchronous throw becomes a rejection (so every call can be awaited alike). */
function settleCall(f: () => Promise<unknown>): Promise<unknown> {
  try {
    return f();
  } catch (err) {
    return Promise.reject(err);
  }
}

describe('unregister while the peer has RMAs in flight on the window', () => {
  for (const [kind, sync] of [
    ['writeTo', false],
    ['writeTo', true],
    ['vwriteTo', false],
    ['readFrom', false],
    ['vreadFrom', true],
  ] as const) {
    it(`${kind}${sync ? ' (sync)' : ''} in a loop: unregister resolves, later copies fail with ENXIO, the data is intact`, async () => {
      const { peer, local } = await peerPair();
      const toUs = kind === 'writeTo' || kind === 'vwriteTo';
      // The peer's own window: the source of writeTo, the target of readFrom.
      const src = kind === 'vwriteTo' ? Buffer.alloc(SIZE, 0x5a) : pattern(7, SIZE);
      const theirs = await peer.call('register', { pages: SIZE / PAGE, fill: b64(src) });
      // Ours: zeros for the peer to fill, or a pattern for it to read.
      const mem = scif.alloc(SIZE);
      const ours = toUs ? Buffer.alloc(SIZE) : pattern(8, SIZE);
      ours.copy(mem);
      const w = await local.register(mem);

      await peer.call('loop', { kind, lo: theirs.offset, len: SIZE, ro: w.offset, opts: { sync } });
      await peer.event('loop-running');
      // Unregister with copies in flight: it waits for them, then the window is gone.
      await within(w.unregister(), bound(30_000), 'unregister with RMAs in flight');
      expect(local.windows).not.toContain(w);
      const end = await peer.event<{ n: number; code: string }>('loop-end');
      expect(end.code).toBe('ENXIO');
      expect(end.n).toBeGreaterThan(0);
      // Later copies fail too, and the peer is alive and well.
      await expect(
        peer.call(kind === 'vwriteTo' ? 'vwriteTo' : kind === 'vreadFrom' ? 'vreadFrom' : kind, {
          lo: theirs.offset,
          len: SIZE,
          ro: w.offset,
          data: b64(Buffer.alloc(8)),
          opts: { sync: true },
        }),
      ).rejects.toMatchObject({ code: 'ENXIO' });
      expect(await peer.call('ping')).toBe('pong');

      if (toUs) {
        // Every copy that landed wrote the whole source: our memory is exactly that.
        expect(firstDiff(mem, src)).toBe(-1);
      } else {
        // Reads left our memory alone, and the peer's window holds what it read.
        expect(firstDiff(mem, ours)).toBe(-1);
        if (kind === 'readFrom') {
          const got = unb64((await peer.call('dump', { wins: [theirs.win] }))[theirs.win]);
          expect(firstDiff(got, ours)).toBe(-1);
        }
      }
      // The offset can be registered again, and the copies go there.
      const again = await local.register(scif.alloc(SIZE), { fixed: true, offset: w.offset });
      expect(again.offset).toBe(w.offset);
      await again.unregister();
      local.destroy();
      await peer.exit();
    });
  }
});

describe('a peer killed (SIGKILL) with windows registered and RMAs in flight', () => {
  for (const role of ['connect', 'listen'] as const) {
    it(`the survivor's promises settle, its socket ends and closes, its fds return (peer ${role}s)`, async () => {
      const mem = scif.alloc(SIZE);
      const fds = fdCount();
      let local: Socket;
      let peer: ReturnType<typeof startPeer>;
      if (role === 'connect') {
        ({ local, peer } = await peerPair());
      } else {
        peer = startPeer();
        const address = await peer.call('listen');
        local = scif.connect({ node: address.node, port: address.port });
        await new Promise<void>((resolve, reject) => {
          local.once('connect', resolve);
          local.once('error', reject);
        });
        await peer.event('accepted');
      }
      const events: string[] = [];
      local.on('end', () => events.push('end'));
      local.on('error', (e: NodeJS.ErrnoException) => events.push(`error:${e.code}`));
      const closed = new Promise<boolean>((resolve) => local.once('close', resolve));
      local.resume();

      const w = await local.register(mem);
      const theirs = await peer.call('register', { pages: SIZE / PAGE });
      // The peer copies into our window in a loop ...
      await peer.call('loop', { kind: 'writeTo', lo: theirs.offset, len: SIZE, ro: w.offset, opts: {} });
      await peer.event('loop-running');
      // ... and we queue copies to and from its window, fences and a signal.
      const calls: Array<[string, Promise<unknown>]> = [];
      const n = GUEST ? 4 : 16;
      const chunk = SIZE / 4;
      for (let i = 0; i < n; i++) {
        const at = (i % 4) * chunk;
        calls.push([`writeTo ${i}`, settleCall(() => local.writeTo(w.offset + at, chunk, theirs.offset + at))]);
        calls.push([`readFrom ${i}`, settleCall(() => local.readFrom(w.offset + at, chunk, theirs.offset + at, { cpu: i % 2 === 0 }))]);
        calls.push([`vreadFrom ${i}`, settleCall(() => local.vreadFrom(Buffer.alloc(chunk), theirs.offset + at))]);
      }
      calls.push(['fence self', settleCall(() => local.fenceMark().then((m) => local.fenceWait(m)))]);
      calls.push(['fence peer', settleCall(() => local.fenceMark({ peer: true }).then((m) => local.fenceWait(m)))]);
      calls.push(['signal', settleCall(() => local.fenceSignal({ remote: { offset: theirs.offset, value: 1n } }))]);
      peer.fix.child.kill('SIGKILL');
      // Calls made after the kill settle too.
      calls.push(['writeTo after', settleCall(() => local.writeTo(w.offset, chunk, theirs.offset, { sync: true }))]);
      calls.push(['fence peer after', settleCall(() => local.fenceMark({ peer: true }).then((m) => local.fenceWait(m)))]);

      const settled = await within(
        Promise.allSettled(calls.map(([, p]) => p)),
        bound(30_000),
        'every RMA promise to settle after the peer was killed',
      );
      // Each is done, or failed with a system error (which one depends on how far the
      // peer's death had got: see the zombie test below for the code itself).
      settled.forEach((r, i) => {
        if (r.status === 'rejected') {
          const e = r.reason as NodeJS.ErrnoException;
          expect(e.code, `${calls[i][0]}: ${e.message}`).toMatch(/^E[A-Z]+$/);
          expect(e.syscall, calls[i][0]).toMatch(/^scif_/);
        }
      });

      const done = await within(peer.fix.done, bound(30_000), 'the peer to die');
      expect(done.signal).toBe('SIGKILL');
      await within(closed, bound(30_000), "the survivor's 'close'");
      expect(events[0]).toMatch(/^(end|error:ECONNRESET)$/);
      // The window went with the endpoint.
      await expect(settleCall(() => w.unregister())).rejects.toMatchObject({ code: 'ENOTCONN' });
      expect(await settleFds(fds)).toBe(fds);
    });
  }
});

// A zombie is a state of a process in *this* kernel (its files stay open until it is
// reaped): across a SCIF link (SCIF_LINK_AGENT) the peer is in the other kernel, where only
// its own kernel sees that state, and the SIGKILL cases above are what this kernel sees.
describe.skipIf(!!LINK_AGENT)('a peer that has died but is not reaped yet (a zombie)', () => {
  it('RMA to it fails with a connection error (ECONNRESET), not ENXIO', async () => {
    // Whether a call reaches the provider before our socket notices the death
    // is a race: try a few times.
    for (let attempt = 1; attempt <= (GUEST ? 3 : 5); attempt++) {
      // The peer runs under a parent that never reaps it (test/fixtures/rma-zombie.js).
      const peer = startPeer({}, 'rma-zombie.js');
      const address = await peer.call('listen');
      const local = scif.connect({ node: address.node, port: address.port });
      await new Promise<void>((resolve, reject) => {
        local.once('connect', resolve);
        local.once('error', reject);
      });
      local.on('error', () => undefined);
      await peer.event('accepted');
      const theirs = await peer.call('register', { pages: 1 });
      const w = await local.register(scif.alloc(PAGE));
      const pid: number = await peer.call('pid');
      process.kill(pid, 'SIGKILL');
      // Dead (a zombie: its files are closed), not reaped. The leader turns
      // zombie before its other threads have gone (and with them the files):
      // wait for it to be the last one left.
      await until(() => procState(pid) === 'Z' && threadCount(pid) <= 1, bound(10_000), 'the peer to be a zombie');
      for (const [name, call] of [
        ['writeTo', () => local.writeTo(w.offset, 64, theirs.offset, { sync: true })],
        ['readFrom', () => local.readFrom(w.offset, 64, theirs.offset)],
        ['vwriteTo', () => local.vwriteTo(Buffer.alloc(8), theirs.offset, { cpu: true })],
      ] as const) {
        const err = await within(
          settleCall(call).then(
            () => null,
            (e) => e as NodeJS.ErrnoException,
          ),
          bound(30_000),
          name,
        );
        expect(err, `${name} succeeded against a dead peer`).not.toBeNull();
        expect(['ECONNRESET', 'ENOTCONN', 'ENODEV'], `attempt ${attempt}: ${name}: ${err!.message}`).toContain(err!.code);
      }
      // Fences on the dead peer's RMAs settle.
      await within(
        settleCall(() => local.fenceMark({ peer: true }).then((m) => local.fenceWait(m))).catch(() => undefined),
        bound(30_000),
        'a peer fence',
      );
      if (!local.destroyed) {
        const closed = new Promise((r) => local.once('close', r));
        local.destroy();
        await within(closed, bound(30_000), "'close'");
      }
      killFixtures();
    }
  });
});

describe.skipIf(!!LINK_AGENT)('a peer killed in the middle of a copy into our window, and never reaped', () => {
  it("our unregister settles and closing the socket does not block the event loop", async () => {
    // The survivor runs in a process of its own (rma-survivor.js): if closing blocks
    // its event loop, this process is still free to notice.
    const survivor = fixture('rma-survivor.js', [String((GUEST ? 16 : 64) * 1024 * 1024)]);
    await survivor.message((m) => m.event === 'zombie');
    // It destroys its socket 1 s after the peer is a zombie: its event loop must keep going,
    // and the socket must close.
    await survivor.message((m) => m.event === 'closed', bound(15_000));
    await survivor.message((m) => m.event === 'tick' && (m.ms as number) > 1250, bound(15_000));
    const unregistered = await survivor.message<{ code: string | null }>((m) => m.event === 'unregister', bound(15_000));
    // Resolved, or failed because the connection is gone.
    expect([null, 'ECONNRESET', 'ENOTCONN']).toContain(unregistered.code);
  });
});
