// Lifecycle: a peer killed mid-stream, fds released, and processes whose
// sockets are closed or unref'd exit on their own.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { killFixtures, bound, NODE1, fdCount, fixture, listen, once, scif, settleFds, within, type Socket } from './helpers';

afterEach(killFixtures);

/** Records a socket's terminal events. */
function watch(socket: Socket): { events: string[]; closed: Promise<void> } {
  const events: string[] = [];
  socket.on('end', () => events.push('end'));
  socket.on('error', (e: NodeJS.ErrnoException) => events.push(`error:${e.code}:${e.syscall}`));
  const closed = within(
    new Promise<void>((resolve) =>
      socket.on('close', (hadError: boolean) => {
        events.push(`close:${hadError}`);
        resolve();
      }),
    ),
    bound(30_000),
    "'close' after the peer was killed",
  );
  return { events, closed };
}

/** 'end' or an error, then 'close' (with hadError matching). */
function expectPeerGone(events: string[]): void {
  expect(events.length).toBeGreaterThanOrEqual(2);
  const [first, ...rest] = events;
  expect(first).toMatch(/^(end|error:ECONNRESET:scif_(recv|send))$/);
  expect(rest[rest.length - 1]).toBe(first === 'end' ? 'close:false' : 'close:true');
  expect(events.filter((e) => e.startsWith('close'))).toHaveLength(1);
}

// SCIF_SEGMENTS=on: the user provider posts every large write as a segment
// the reader copies out of the writer (user_stream.h); off: all through the
// socket. The kernel provider has one path and ignores it.
describe.each(['off', 'on'] as const)('a peer killed with SIGKILL mid-stream (SCIF_SEGMENTS=%s)', (segments) => {
  const saved = process.env.SCIF_SEGMENTS;
  beforeEach(() => {
    process.env.SCIF_SEGMENTS = segments;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.SCIF_SEGMENTS;
    else process.env.SCIF_SEGMENTS = saved;
  });

  it("the reading side sees 'end' or 'error', then 'close'; fds return", async () => {
    const fds = fdCount();
    let accepted!: Socket;
    const server = scif.createServer((s) => (accepted = s));
    const address = await listen(server);
    const peer = fixture('peer.js', ['writer', String(address.node), String(address.port)], { env: { SCIF_NODE: '1', SCIF_SEGMENTS: segments } });
    await peer.message((m) => 'connected' in m);
    if (!accepted) await once(server, 'connection');
    expect(accepted.remoteNode).toBe(NODE1);
    const w = watch(accepted);
    // Mid-stream: data is flowing when the peer dies.
    let bytes = 0;
    await within(
      new Promise<void>((resolve) =>
        accepted.on('data', (d: Buffer) => {
          bytes += d.length;
          if (bytes >= 4 * 1024 * 1024) resolve();
        }),
      ),
      bound(30_000),
      'data from the peer',
    );
    peer.child.kill('SIGKILL');
    await w.closed;
    expectPeerGone(w.events);
    expect((await peer.done).signal).toBe('SIGKILL');
    server.close();
    await once(server, 'close');
    expect(await settleFds(fds)).toBe(fds);
  });

  it("the writing side sees 'end' or 'error', then 'close'; its pending write completes; fds return", async () => {
    const fds = fdCount();
    const peer = fixture('peer.js', ['reader'], { env: { SCIF_NODE: '1', SCIF_SEGMENTS: segments } });
    const { listening } = await peer.message<{ listening: { node: number; port: number } }>((m) => 'listening' in m);
    expect(listening.node).toBe(NODE1);
    const c = scif.connect(listening);
    const w = watch(c);
    await once(c, 'connect');
    expect(c.remoteNode).toBe(NODE1);
    const chunk = Buffer.alloc(1024 * 1024, 0x42);
    let stop = false;
    let callbacks = 0;
    let writes = 0;
    const pump = () => {
      while (!stop && !c.destroyed) {
        writes++;
        if (!c.write(chunk, () => callbacks++)) {
          c.once('drain', pump);
          return;
        }
      }
    };
    pump();
    await peer.message((m) => 'reading' in m);
    peer.child.kill('SIGKILL');
    await w.closed;
    stop = true;
    expectPeerGone(w.events);
    expect((await peer.done).signal).toBe('SIGKILL');
    await new Promise((r) => setImmediate(r));
    expect(c.destroyed).toBe(true);
    expect(writes).toBeGreaterThan(0);
    expect(callbacks).toBeLessThanOrEqual(writes);
    expect(await settleFds(fds)).toBe(fds);
  });
});

describe('a listener killed before it accepts', () => {
  it("a client waiting in its backlog sees the peer go, with a meaningful error if any", async () => {
    const fds = fdCount();
    const peer = fixture('peer.js', ['stuck-listener'], { env: { SCIF_NODE: '1' } });
    const { listening } = await peer.message<{ listening: { node: number; port: number } }>((m) => 'listening' in m);
    const c = scif.connect(listening);
    const events: string[] = [];
    c.on('connect', () => events.push('connect'));
    const w = watch(c);
    c.resume();
    await new Promise((r) => setImmediate(r));
    peer.child.kill('SIGKILL');
    await w.closed;
    events.push(...w.events);
    // Connected (queued in the backlog) then gone, or refused/reset while
    // connecting: never a bogus error such as EBADF from polling.
    expect([
      ['connect', 'end', 'close:false'],
      ['connect', 'error:ECONNRESET:scif_recv', 'close:true'],
      ['error:ECONNREFUSED:scif_connect', 'close:true'],
      ['error:ECONNRESET:scif_connect', 'close:true'],
    ]).toContainEqual(events);
    await peer.done;
    expect(await settleFds(fds)).toBe(fds);
  });
});

describe('processes exit on their own', () => {
  const exits = async (args: string[], pred: (m: Record<string, unknown>) => boolean, env: Record<string, string> = {}) => {
    const child = fixture('exit.js', args, { env });
    const m = await child.message(pred);
    const r = await within(child.done, bound(30_000), `exit.js ${args[0]} exits by itself`);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    return m;
  };

  it("a listening server that is unref()'d", async () => {
    expect(await exits(['server-unref'], (m) => 'listening' in m)).toEqual({ listening: true });
  });

  it("an open connection (both ends) and its server, all unref()'d", async () => {
    expect(await exits(['connected-unref'], (m) => 'connected' in m)).toEqual({ connected: true, listening: true });
  });

  it('a process whose sockets and server are closed', async () => {
    expect(await exits(['closed'], (m) => 'closed' in m)).toEqual({ echoed: 'ping', closed: true });
  });

  it("a client on node 1 connected to this process, unref()'d; this side sees it go", async () => {
    let accepted!: Socket;
    const server = scif.createServer((s) => (accepted = s));
    const address = await listen(server);
    const gone = new Promise<string[]>((resolve) =>
      server.once('connection', (s: Socket) => {
        const w = watch(s);
        s.resume();
        w.closed.then(() => resolve(w.events));
      }),
    );
    await exits(['client-unref', String(address.node), String(address.port)], (m) => 'connected' in m, { SCIF_NODE: '1' });
    expectPeerGone(await within(gone, bound(30_000), 'server side closes'));
    expect(accepted.remoteNode).toBe(NODE1);
    server.close();
    await once(server, 'close');
  });
});
