// The rest of the net-style API: addresses, node ids, byte counters,
// backpressure, timeouts, maxConnections, getConnections, pause/resume,
// destroySoon, and the ESM entry.
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { killFixtures, bound, BULK_BYTES, fixture, listen, once, scif, within, type Server, type Socket } from './helpers';

afterEach(killFixtures);

/** A listening server and a connected pair. */
async function pair(server: Server = scif.createServer()) {
  const address = await listen(server);
  const accepting = once<[Socket]>(server, 'connection');
  const client = scif.connect(address);
  await once(client, 'connect');
  const [accepted] = await accepting;
  return { server, address, client, accepted };
}

async function teardown(server: Server, ...sockets: Socket[]) {
  for (const s of sockets) s.destroy();
  server.close();
  await once(server, 'close');
}

describe('addresses and nodes', () => {
  it('getNodeIds(): this node and the online nodes', () => {
    const ids = scif.getNodeIds();
    expect(Number.isInteger(ids.self)).toBe(true);
    expect(ids.nodes).toContain(ids.self);
    expect(ids.nodes.length).toBeGreaterThanOrEqual(2);
    expect(new Set(ids.nodes).size).toBe(ids.nodes.length);
    expect([...ids.nodes].sort((a, b) => a - b)).toEqual(ids.nodes);
    expect(ids.self).toBe(scif.platform().node);
  });

  it('address(), localNode/localPort, remoteNode/remotePort on both sides', async () => {
    const server = scif.createServer();
    expect(server.address()).toBeNull();
    expect(server.listening).toBe(false);
    const unconnected = new scif.Socket();
    expect(unconnected.timeout).toBeUndefined();
    expect(unconnected.address()).toEqual({});
    expect(unconnected.localNode).toBeUndefined();
    expect(unconnected.remotePort).toBeUndefined();
    unconnected.destroy();

    const { address, client, accepted } = await pair(server);
    const self = scif.getNodeIds().self;
    expect(server.listening).toBe(true);
    expect(address).toEqual({ node: self, port: expect.any(Number) });
    expect(address.port).toBeGreaterThan(scif.constants.SCIF_PORT_RSVD); // automatic ports start above the reserved range
    expect(address.port).toBeLessThanOrEqual(65535);

    expect(client.localNode).toBe(self);
    expect(client.localPort).toBeGreaterThan(0);
    expect(client.localPort).not.toBe(address.port);
    expect(client.remoteNode).toBe(address.node);
    expect(client.remotePort).toBe(address.port);
    expect(client.address()).toEqual({ node: self, port: client.localPort });

    expect(accepted.localNode).toBe(address.node);
    expect(accepted.localPort).toBe(address.port);
    expect(accepted.remoteNode).toBe(self);
    expect(accepted.remotePort).toBe(client.localPort);
    expect(accepted.address()).toEqual(address);

    await teardown(server, client, accepted);
    expect(server.address()).toBeNull();
    // Addresses stay readable after close, as net's do.
    expect(client.remotePort).toBe(address.port);
  });
});

describe('counters and flow control', () => {
  it('bytesRead / bytesWritten count bytes on both sides', async () => {
    const { server, client, accepted } = await pair();
    const parts = ['héllo', Buffer.alloc(100_000, 1), 'x'];
    const total = Buffer.byteLength('héllo') + 100_000 + 1;
    let got = 0;
    const all = within(
      new Promise<void>((resolve) =>
        accepted.on('data', (d: Buffer) => {
          got += d.length;
          if (got === total) resolve();
        }),
      ),
      bound(30_000),
      'all bytes',
    );
    for (const p of parts) client.write(p);
    await all;
    expect(accepted.bytesRead).toBe(total);
    expect(client.bytesWritten).toBe(total);
    expect(client.bytesRead).toBe(0);
    expect(accepted.bytesWritten).toBe(0);
    accepted.write('ok');
    await once(client, 'data');
    expect(client.bytesRead).toBe(2);
    expect(accepted.bytesWritten).toBe(2);
    await teardown(server, client, accepted);
  });

  it('bytesWritten counts bytes queued before the connection is up, as net', async () => {
    const run = async (api: { createServer: typeof net.createServer; connect: typeof net.connect }, isNet: boolean) => {
      const server = api.createServer((s) => s.resume());
      (server.listen as (...a: unknown[]) => void)(...(isNet ? [0, '127.0.0.1'] : [0]));
      await once(server, 'listening');
      const a = server.address() as { port: number; node?: number };
      const c = api.connect((isNet ? { host: '127.0.0.1', port: a.port } : { node: a.node, port: a.port }) as never);
      c.write('héllo');
      c.write(Buffer.alloc(300_000));
      const queued = c.bytesWritten;
      c.end('!');
      await once(c, 'close');
      server.close();
      await once(server, 'close');
      return { queued, total: c.bytesWritten };
    };
    const viaNet = await run(net, true);
    const viaScif = await run(scif as never, false);
    expect(viaScif).toEqual(viaNet);
    expect(viaScif).toEqual({ queued: 6 + 300_000, total: 6 + 300_000 + 1 });
  });

  it("write() returns false when the endpoint is full, and 'drain' follows once the peer reads", async () => {
    const { server, client, accepted } = await pair();
    accepted.pause();
    const chunk = Buffer.alloc(4096, 7); // below the highWaterMark: false means "full"
    let written = 0;
    let more = true;
    while (more) {
      more = client.write(chunk);
      written += chunk.length;
      if (written > 1024 * 1024 * 1024) throw new Error('write() never returned false');
    }
    expect(client.writableLength).toBeGreaterThan(0);
    expect(client.writableNeedDrain).toBe(true);
    let drained = false;
    client.once('drain', () => (drained = true));
    let received = 0;
    const all = within(
      new Promise<void>((resolve) =>
        accepted.on('data', (d: Buffer) => {
          received += d.length;
          if (received === written) resolve();
        }),
      ),
      bound(60_000),
      'the backlog to drain',
    );
    accepted.resume();
    await all;
    if (!drained) await once(client, 'drain');
    expect(client.writableLength).toBe(0);
    expect(received).toBe(written);
    await teardown(server, client, accepted);
  });

  it('pause()/resume(): no data while paused, everything arrives in order', async () => {
    const { server, client, accepted } = await pair();
    const CHUNK = 1024 * 1024;
    const sentHash = createHash('sha256');
    // The sender writes BULK_BYTES with backpressure.
    const sending = within(
      new Promise<void>((resolve, reject) => {
        let sent = 0;
        let i = 0;
        const pump = () => {
          while (sent < BULK_BYTES) {
            const b = Buffer.alloc(CHUNK, i++ & 0xff);
            b.writeUInt32LE(i, 0);
            sentHash.update(b);
            sent += CHUNK;
            if (!client.write(b, (err) => err && reject(err))) return void client.once('drain', pump);
          }
          resolve();
        };
        pump();
      }),
      bound(120_000),
      'sending',
    );
    // The receiver pauses often, and checks nothing arrives while paused.
    const recvHash = createHash('sha256');
    let received = 0;
    let paused = false;
    let dataWhilePaused = 0;
    let pauses = 0;
    let nextPause = CHUNK;
    const receiving = within(
      new Promise<void>((resolve) => {
        accepted.on('data', (d: Buffer) => {
          if (paused) dataWhilePaused++;
          recvHash.update(d);
          received += d.length;
          if (received === BULK_BYTES) return resolve();
          if (received >= nextPause) {
            nextPause += 4 * CHUNK;
            paused = true;
            pauses++;
            accepted.pause();
            expect(accepted.isPaused()).toBe(true);
            setTimeout(() => {
              paused = false;
              accepted.resume();
            }, 1);
          }
        });
      }),
      bound(120_000),
      'receiving',
    );
    await Promise.all([sending, receiving]);
    expect(dataWhilePaused).toBe(0);
    expect(pauses).toBeGreaterThan(2);
    expect(received).toBe(BULK_BYTES);
    expect(recvHash.digest('hex')).toBe(sentHash.digest('hex'));
    await teardown(server, client, accepted);
  });

  it('pauseOnConnect: accepted sockets start paused and read after resume()', async () => {
    const server = scif.createServer({ pauseOnConnect: true });
    const { client, accepted } = await pair(server);
    expect(accepted.isPaused()).toBe(true);
    client.write('waited');
    const got = once<[Buffer]>(accepted, 'data');
    accepted.resume();
    expect(String((await got)[0])).toBe('waited');
    await teardown(server, client, accepted);
  });
});

describe('timeouts, limits and closing', () => {
  it("setTimeout() emits 'timeout' on an idle socket and leaves it open", async () => {
    const { server, client, accepted } = await pair();
    let calls = 0;
    client.setTimeout(20, () => calls++);
    expect(client.timeout).toBe(20);
    await once(client, 'timeout');
    expect(calls).toBe(1);
    expect(client.destroyed).toBe(false);
    // Still usable; activity re-arms the timer, so the next idle period
    // emits 'timeout' again (once), as net's does.
    const again = once(client, 'timeout');
    client.write('after timeout');
    expect(String((await once<[Buffer]>(accepted, 'data'))[0])).toBe('after timeout');
    await again;
    expect(calls).toBe(1); // the callback was a once-listener
    client.setTimeout(0);
    expect(client.timeout).toBe(0);
    // connect({ timeout }) arms it too.
    const accepting = once<[Socket]>(server, 'connection');
    const c2 = scif.connect({ ...server.address()!, timeout: 20 });
    await once(c2, 'timeout');
    expect(c2.destroyed).toBe(false);
    const [a2] = await accepting;
    await teardown(server, client, accepted, c2, a2);
  });

  it("maxConnections: extra connections are closed and reported by 'drop'", async () => {
    const server = scif.createServer();
    server.maxConnections = 1;
    const { address, client, accepted } = await pair(server);
    let connections = 0;
    server.on('connection', () => connections++);
    const dropped = once<[{ localNode: number; localPort: number; remoteNode: number; remotePort: number }]>(server, 'drop');
    const extra = scif.connect(address);
    const events: string[] = [];
    extra.on('connect', () => events.push('connect'));
    extra.on('end', () => events.push('end'));
    extra.on('error', (e: NodeJS.ErrnoException) => events.push(`error:${e.code}`));
    extra.resume();
    const [drop] = await dropped;
    await once(extra, 'close');
    expect(connections).toBe(0);
    expect(drop).toEqual({
      localNode: address.node,
      localPort: address.port,
      remoteNode: scif.getNodeIds().self,
      remotePort: expect.any(Number),
    });
    if (extra.localPort !== undefined) expect(drop.remotePort).toBe(extra.localPort);
    expect(events.length).toBeGreaterThan(0);
    expect(events[events.length - 1]).toMatch(/^(end|error:ECONNRESET|error:ECONNREFUSED)$/);
    // The first connection is unaffected.
    client.write('first');
    expect(String((await once<[Buffer]>(accepted, 'data'))[0])).toBe('first');
    await teardown(server, client, accepted);
  });

  it('getConnections() counts open connections', async () => {
    const { server, address, client, accepted } = await pair();
    const count = () => new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    expect(await count()).toBe(1);
    const c2 = scif.connect(address);
    const [a2] = await once<[Socket]>(server, 'connection');
    expect(await count()).toBe(2);
    c2.destroy();
    a2.resume();
    await once(a2, 'close');
    expect(await count()).toBe(1);
    await teardown(server, client, accepted);
    expect(await count()).toBe(0);
  });

  it('destroySoon(): queued data is delivered, then the socket closes', async () => {
    const { server, client, accepted } = await pair();
    const payload = Buffer.alloc(8 * 1024 * 1024, 3);
    let received = 0;
    accepted.on('data', (d: Buffer) => (received += d.length));
    const ended = once(accepted, 'end', bound(60_000));
    client.write(payload);
    client.destroySoon();
    const [hadError] = await once<[boolean]>(client, 'close', bound(60_000));
    expect(hadError).toBe(false);
    await ended;
    expect(received).toBe(payload.length);
    await teardown(server, client, accepted);
  });

  it('server.close() without listening reports ERR_SERVER_NOT_RUNNING', async () => {
    const server = scif.createServer();
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => server.close(resolve));
    expect(err?.code).toBe('ERR_SERVER_NOT_RUNNING');
  });
});

describe('ESM', () => {
  // In a child: Node's own ESM loader, not the test runner's module transform.
  it("import('scif') and import() of dist/index.mjs work in a plain Node ESM program", async () => {
    const child = fixture('esm.mjs');
    const m = await child.message<Record<string, unknown>>();
    expect(m).toMatchObject({
      echo: 'esm',
      sameByPath: true,
      defaultExport: true,
      socketIsSocket: true,
      serverIsServer: true,
      nodeIds: scif.getNodeIds(),
      adminPortEnd: 1024,
    });
    expect(m.names).toEqual(expect.arrayContaining(['connect', 'createConnection', 'createServer', 'Socket', 'Server', 'getNodeIds', 'constants', 'default']));
    const r = await within(child.done, bound(30_000), 'esm.mjs exits');
    expect(r.code).toBe(0);
  });
});
