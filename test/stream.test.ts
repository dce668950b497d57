// Bulk streams: two processes on two nodes stream in both directions at once,
// and many concurrent connections echo through one server.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { bound, killFixtures, NODE0, NODE1, fixture, GUEST, listen, once, scif, STREAM_BYTES, within, type Socket } from './helpers';

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

describe('streams', () => {
  // SCIF_SEGMENTS=on: every 1 MiB write is posted and copied once, out of
  // the writer's memory (user provider); off: through the socket.
  it.each(['off', 'on'] as const)(`two processes on nodes 0 and 1 stream ${STREAM_BYTES / 2 ** 20} MiB each way at once; SHA-256s match (SCIF_SEGMENTS=%s)`, async (segments) => {
    const server = fixture('stream-peer.js', ['server', String(STREAM_BYTES)], { env: { SCIF_NODE: '0', SCIF_SEGMENTS: segments } });
    try {
      const { listening } = await server.message<{ listening: { node: number; port: number } }>((m) => 'listening' in m);
      expect(listening.node).toBe(NODE0);
      const client = fixture('stream-peer.js', ['client', String(STREAM_BYTES), String(listening.node), String(listening.port)], {
        env: { SCIF_NODE: '1', SCIF_SEGMENTS: segments },
      });
      const limit = bound(300_000);
      const [s, c] = await Promise.all([
        server.message<{ result: PeerResult }>((m) => 'result' in m || 'error' in m, limit),
        client.message<{ result: PeerResult }>((m) => 'result' in m || 'error' in m, limit),
      ]);
      expect(s).toHaveProperty('result');
      expect(c).toHaveProperty('result');
      const [sr, cr] = [s.result, c.result];
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
      expect(sr.localPort).toBe(listening.port);
      expect(sr.address).toEqual({ node: NODE0, port: listening.port });
      expect(sr.remoteNode).toBe(NODE1);
      expect(cr.localNode).toBe(NODE1);
      expect(cr.remoteNode).toBe(NODE0);
      expect(cr.remotePort).toBe(listening.port);
      expect(cr.address).toEqual({ node: NODE1, port: cr.localPort });
      expect(sr.remotePort).toBe(cr.localPort);
      const [se, ce] = await within(Promise.all([server.done, client.done]), bound(60_000), 'stream peers exit');
      expect(se.code).toBe(0);
      expect(ce.code).toBe(0);
    } finally {
      server.child.kill('SIGKILL');
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
