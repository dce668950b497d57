// Bulk streams: two processes on two nodes stream in both directions at once,
// and many concurrent connections echo through one server.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bound, killFixtures, NODE0, NODE1, fixture, GUEST, listen, once, ROOT, scif, STREAM_BYTES, within, type Fixture, type FixtureOptions, type Socket } from './helpers';

afterEach(killFixtures);

// Upper bounds for the bulk tests (the default is too tight on a busy host).
const SLOW = GUEST ? 1_200_000 : 300_000;

const require = createRequire(import.meta.url);
const data = require('./fixtures/data.js') as {
  CHUNK: number;
  chunk(seed: number, i: number, size?: number): Buffer;
};

interface PeerResult {
  role: string;
  sentHash: string;
  recvHash: string;
  received: number;
  bytesRead: number;
  bytesWritten: number;
  localNode: number;
  localPort: number;
  remoteNode: number;
  remotePort: number;
  address: { node: number; port: number };
  hadError: boolean;
  nodeIds: { self: number; nodes: number[] };
}

/**
 * Runs test/fixtures/<name> as a server (node 0) with |serverArgs|, then as a client (node 1)
 * with |clientArgs| followed by the server's node and port, waits for both {result} lines and
 * runs |body| with them; the server is killed after, whatever |body| did.
 */
async function fixturePair<S, C>(
  name: string,
  serverArgs: string[],
  serverOpts: FixtureOptions,
  clientArgs: (node: number, port: number) => string[],
  clientOpts: FixtureOptions,
  body: (r: { sr: S; cr: C; port: number; server: Fixture; client: Fixture }) => Promise<void>,
): Promise<void> {
  const server = fixture(name, serverArgs, { ...serverOpts, env: { SCIF_NODE: '0', ...serverOpts.env } });
  try {
    const { listening } = await server.message<{ listening: { node: number; port: number } }>((m) => 'listening' in m);
    expect(listening.node).toBe(NODE0);
    const client = fixture(name, clientArgs(listening.node, listening.port), {
      ...clientOpts,
      env: { SCIF_NODE: '1', ...clientOpts.env },
    });
    const limit = bound(300_000);
    const [s, c] = await Promise.all([
      server.message<{ result: S }>((m) => 'result' in m || 'error' in m, limit),
      client.message<{ result: C }>((m) => 'result' in m || 'error' in m, limit),
    ]);
    expect(s).toHaveProperty('result');
    expect(c).toHaveProperty('result');
    await body({ sr: s.result, cr: c.result, port: listening.port, server, client });
  } finally {
    server.child.kill('SIGKILL');
  }
}

/** test/fixtures/stream-peer.js on both ends: STREAM_BYTES each way at once. */
function streamPair(
  serverEnv: Record<string, string>,
  clientOpts: FixtureOptions,
  body: (r: { sr: PeerResult; cr: PeerResult; port: number; server: Fixture; client: Fixture }) => Promise<void>,
): Promise<void> {
  const bytes = String(STREAM_BYTES);
  return fixturePair<PeerResult, PeerResult>('stream-peer.js', ['server', bytes], { env: serverEnv },
    (node, port) => ['client', bytes, String(node), String(port)], clientOpts, body);
}

describe('streams', () => {
  // SCIF_SEGMENTS=on: every 1 MiB write is posted and copied once, out of
  // the writer's memory (user provider); off: through the socket.
  it.each(['off', 'on'] as const)(`two processes on nodes 0 and 1 stream ${STREAM_BYTES / 2 ** 20} MiB each way at once; SHA-256s match (SCIF_SEGMENTS=%s)`, async (segments) => {
    await streamPair({ SCIF_SEGMENTS: segments }, { env: { SCIF_SEGMENTS: segments } }, async ({ sr, cr, port, server, client }) => {
      // Each direction arrived intact.
      expect(sr.received).toBe(STREAM_BYTES);
      expect(cr.received).toBe(STREAM_BYTES);
      expect(cr.recvHash).toBe(sr.sentHash);
      expect(sr.recvHash).toBe(cr.sentHash);
      expect(sr.sentHash).not.toBe(cr.sentHash);
      // Byte counters.
      for (const r of [sr, cr]) {
        expect(r.bytesRead).toBe(STREAM_BYTES);
        expect(r.bytesWritten).toBe(STREAM_BYTES);
        expect(r.hadError).toBe(false);
      }
      // Addresses as each side sees them: the server's process is node 0,
      // the client's node 1.
      expect(sr.nodeIds.self).toBe(NODE0);
      expect(cr.nodeIds.self).toBe(NODE1);
      expect(sr.localNode).toBe(NODE0);
      expect(sr.localPort).toBe(port);
      expect(sr.address).toEqual({ node: NODE0, port });
      expect(sr.remoteNode).toBe(NODE1);
      expect(cr.localNode).toBe(NODE1);
      expect(cr.remoteNode).toBe(NODE0);
      expect(cr.remotePort).toBe(port);
      expect(cr.address).toEqual({ node: NODE1, port: cr.localPort });
      expect(sr.remotePort).toBe(cr.localPort);
      const [se, ce] = await within(Promise.all([server.done, client.done]), bound(60_000), 'stream peers exit');
      expect(se.code).toBe(0);
      expect(ce.code).toBe(0);
    });
  }, SLOW);

  // A reader that may not read the writer's memory (process_vm_readv
  // refused, as under Docker's default seccomp profile or Yama ptrace_scope
  // 2): the user provider's posted writes are refused and go through the
  // socket instead; nothing is lost either way. test/fixtures/no-pvm.c (a
  // seccomp filter) runs the client so; the server may still read the
  // client's memory, so one direction is posted and the other refused. The
  // kernel provider copies in the kernel and is unaffected (and on a SCIF
  // link the client runs in the other kernel, unwrapped).
  it(`a client that may not read or write other processes' memory streams ${STREAM_BYTES / 2 ** 20} MiB each way at once; SHA-256s match`, async () => {
    const noPvm = path.join(mkdtempSync(path.join(tmpdir(), 'scif-no-pvm-')), 'no-pvm');
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', noPvm, path.join(ROOT, 'test', 'fixtures', 'no-pvm.c')]);
    await streamPair({}, { wrap: [noPvm] }, async ({ sr: s, cr: c, server, client }) => {
      expect(c.received).toBe(STREAM_BYTES);
      expect(s.received).toBe(STREAM_BYTES);
      expect(c.recvHash).toBe(s.sentHash);
      expect(s.recvHash).toBe(c.sentHash);
      expect(c.hadError).toBe(false);
      const [se, ce] = await within(Promise.all([server.done, client.done]), bound(60_000), 'stream peers exit');
      expect(ce.stderr).toBe('');
      expect(ce.code).toBe(0);
      expect(se.code).toBe(0);
    });
  }, SLOW);

  // Across cores, a writer whose loop spins while its posted write is read (busy polling)
  // copies the second half of each piece the reader takes into the reader's buffer while the
  // reader copies the first (user provider, native/user_stream.h); the kernel provider copies
  // in the kernel. 4 MiB writes into a reused 1 MiB onread buffer, server and client pinned to
  // two CPUs (on a SCIF link the client runs in the other kernel, unpinned).
  it('4 MiB writes read by onread across two CPUs arrive intact; on the user provider the writer copies part of each piece', async () => {
    const total = (GUEST ? 64 : 512) * 2 ** 20;
    type Sent = { sentHash: string; sent: number; helped: number };
    type Received = { recvHash: string; received: number; helped: number };
    await fixturePair<Sent, Received>('onread-peer.js', ['server', String(total), String(4 * 2 ** 20)], { wrap: ['taskset', '-c', '0'] },
      (node, port) => ['client', String(total), String(node), String(port), String(2 ** 20)], { wrap: ['taskset', '-c', '1'] },
      async ({ sr: s, cr: c, server, client }) => {
        expect(s.sent).toBe(total);
        expect(c.received).toBe(total);
        expect(c.recvHash).toBe(s.sentHash);
        if (scif.platform().provider === 'user') {
          // Both count the bytes the writer copied; some of every piece would be half, but a
          // writer that stopped spinning (a busy machine) leaves a piece to the reader.
          expect(s.helped).toBe(c.helped);
          expect(c.helped).toBeGreaterThan(0);
          expect(c.helped).toBeLessThanOrEqual(total / 2);
        } else {
          expect(s.helped).toBe(0);
          expect(c.helped).toBe(0);
        }
        const [se, ce] = await within(Promise.all([server.done, client.done]), bound(60_000), 'onread peers exit');
        expect(se.code).toBe(0);
        expect(ce.code).toBe(0);
      });
  }, SLOW);

  // The user provider sends small writes through shared memory where both
  // ends can run at once (SCIF_LANE=auto), and large ones through the socket
  // (or posted): whatever the path, bytes arrive once and in order, and what
  // was written just before end() arrives before the end. The kernel
  // provider has one path and ignores SCIF_LANE.
  it.each([
    ['auto', 'auto'],
    ['off', 'auto'],
    ['auto', 'on'],
  ] as const)('writes of mixed sizes (small between large) arrive intact and in order both ways, with the reader pausing, up to end() (SCIF_LANE=%s, SCIF_SEGMENTS=%s)', async (lane, segments) => {
    const saved = { lane: process.env.SCIF_LANE, segments: process.env.SCIF_SEGMENTS };
    process.env.SCIF_LANE = lane;
    process.env.SCIF_SEGMENTS = segments;
    try {
      let seed = 12345;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const SIZES = [1, 8, 100, 4095, 16383, 16384, 16385, 65535, 65536, 200_000, 1 << 20];
      const plan = Array.from({ length: 400 }, () => (rand(4) === 0 ? SIZES[rand(SIZES.length)] : 1 + rand(64)));
      const send = (sock: Socket, tag: number): string => {
        const hash = createHash('sha256');
        for (const [i, size] of plan.entries()) {
          const chunk = data.chunk(tag, i, size);
          hash.update(chunk);
          sock.write(chunk);
        }
        return hash.digest('hex');
      };
      const total = plan.reduce((a, b) => a + b, 0);
      // Reads until |until| bytes (or the end), pausing now and then.
      const receive = (sock: Socket, until: number): Promise<{ hash: string; bytes: number }> =>
        new Promise((resolve, reject) => {
          const hash = createHash('sha256');
          let bytes = 0;
          let reads = 0;
          const finish = (): void => resolve({ hash: hash.digest('hex'), bytes });
          sock.on('data', (d: Buffer) => {
            hash.update(d);
            bytes += d.length;
            if (bytes >= until) return finish();
            if (++reads % 50 === 0) {
              sock.pause();
              setTimeout(() => sock.resume(), 5);
            }
          });
          sock.on('end', () => {
            if (bytes < until) finish();
          });
          sock.on('error', reject);
        });
      const server = scif.createServer();
      const accepted = new Promise<{ got: Promise<{ hash: string; bytes: number }>; sent: string }>((resolve) => {
        server.once('connection', (s: Socket) => {
          const got = receive(s, Infinity); // until the client ends
          resolve({ got, sent: send(s, 2) });
        });
      });
      const address = await listen(server);
      const c = scif.connect(address);
      await once(c, 'connect');
      const fromServer = receive(c, total);
      const clientSent = send(c, 1);
      const side = await within(accepted, bound(10_000), 'accept');
      const got1 = await within(fromServer, bound(60_000), 'the server\'s bytes');
      // Everything the client wrote is flushed before its end() closes the connection.
      const closed = once(c, 'close', bound(60_000));
      c.end();
      const got2 = await within(side.got, bound(60_000), 'the client\'s bytes');
      await closed;
      expect(got1.bytes).toBe(total);
      expect(got1.hash).toBe(side.sent);
      expect(got2.bytes).toBe(total);
      expect(got2.hash).toBe(clientSent);
      server.close();
      await once(server, 'close');
    } finally {
      if (saved.lane === undefined) delete process.env.SCIF_LANE;
      else process.env.SCIF_LANE = saved.lane;
      if (saved.segments === undefined) delete process.env.SCIF_SEGMENTS;
      else process.env.SCIF_SEGMENTS = saved.segments;
    }
  }, SLOW);

  it('200 concurrent connections to one server each echo 1 MiB intact', async () => {
    const CONNECTIONS = 200;
    const SIZE = 1024 * 1024;
    let open = 0;
    let peak = 0;
    let accepted = 0;
    const server = scif.createServer((s) => {
      accepted++;
      peak = Math.max(peak, ++open);
      s.on('close', () => open--);
      s.pipe(s);
    });
    const address = await listen(server);
    const body = data.chunk(7, 0, SIZE - 16);
    const sockets: Socket[] = [];
    const connected: Promise<unknown>[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const c = scif.connect(address);
      sockets.push(c);
      connected.push(once(c, 'connect', bound(60_000)));
    }
    // Everyone is connected before anyone sends: the connections are
    // concurrent, not sequential.
    await Promise.all(connected);
    const results = await within(
      Promise.all(
        sockets.map(
          (c, i) =>
            new Promise<{ got: string; want: string; bytes: number }>((resolve, reject) => {
              const header = Buffer.alloc(16);
              header.writeUInt32LE(i, 0);
              header.write('scif-echo', 4);
              const want = createHash('sha256').update(header).update(body).digest('hex');
              const hash = createHash('sha256');
              let bytes = 0;
              c.on('data', (d: Buffer) => {
                hash.update(d);
                bytes += d.length;
                if (bytes === SIZE) {
                  c.end();
                  resolve({ got: hash.digest('hex'), want, bytes });
                } else if (bytes > SIZE) {
                  reject(new Error(`connection ${i}: ${bytes} bytes echoed`));
                }
              });
              c.on('error', reject);
              c.write(header);
              c.write(body);
            }),
        ),
      ),
      bound(120_000),
      '200 echoes',
    );
    for (const r of results) {
      expect(r.bytes).toBe(SIZE);
      expect(r.got).toBe(r.want);
    }
    expect(accepted).toBe(CONNECTIONS);
    expect(peak).toBe(CONNECTIONS);
    await within(
      Promise.all(sockets.map((c) => (c.destroyed ? Promise.resolve() : once(c, 'close')))),
      bound(60_000),
      'clients close',
    );
    server.close();
    await once(server, 'close');
    expect(open).toBe(0);
  }, SLOW);
});
