// http over scif: Node's http server fed by a scif server ('connection' →
// httpServer.emit('connection', socket)) and an http.Agent whose
// createConnection returns a scif socket. Each script runs over net (TCP on
// 127.0.0.1, wired the same way) and over scif; what the program sees must
// be equal: a request/response exchange, keep-alive reuse, a large body both
// ways, and a client abort.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bound, GUEST, killFixtures, scif, within } from './helpers';

afterEach(killFixtures);

interface Transport {
  name: string;
  /** A transport server feeding `httpServer`; resolves once listening. */
  serve(httpServer: http.Server): Promise<{ close(): Promise<void>; connections(): number }>;
  /** An agent whose connections go over this transport to the last server served. */
  agent(options: http.AgentOptions): http.Agent;
}

function transport(name: string, listen: (raw: net.Server | import('./helpers').Server) => void, mk: () => net.Server | import('./helpers').Server, connectArgs: (raw: any) => object, connect: (o: object) => net.Socket | import('./helpers').Socket): Transport {
  let target: object = {};
  return {
    name,
    async serve(httpServer) {
      const raw = mk();
      let count = 0;
      raw.on('connection', (s: unknown) => {
        count++;
        httpServer.emit('connection', s);
      });
      listen(raw);
      await within(new Promise((r) => raw.once('listening', r)), bound(30_000), 'listening');
      target = connectArgs(raw);
      return {
        connections: () => count,
        close: () =>
          new Promise<void>((resolve) => {
            raw.close(() => resolve());
            httpServer.closeAllConnections();
          }),
      };
    },
    agent(options) {
      const agent = new http.Agent(options);
      (agent as unknown as { createConnection: unknown }).createConnection = (_opts: unknown, cb?: (err: Error | null, s: unknown) => void) => {
        const socket = connect(target);
        if (cb) socket.once('connect', () => cb(null, socket));
        return cb ? undefined : socket;
      };
      return agent;
    },
  };
}

const NET = transport(
  'net',
  (raw) => (raw as net.Server).listen(0, '127.0.0.1'),
  () => net.createServer(),
  (raw) => ({ host: '127.0.0.1', port: raw.address().port }),
  (o) => net.connect(o as net.NetConnectOpts),
);
const SCIF = transport(
  'scif',
  (raw) => (raw as import('./helpers').Server).listen(0),
  () => scif.createServer(),
  (raw) => raw.address(),
  (o) => scif.connect(o as never),
);

interface Reply {
  status?: number;
  headers?: http.IncomingHttpHeaders;
  body?: string;
  reused?: boolean;
  error?: string;
}

function request(agent: http.Agent, options: http.RequestOptions, body?: Buffer): Promise<Reply & { raw?: Buffer }> {
  return within(
    new Promise((resolve) => {
      const req = http.request({ host: 'scif.invalid', agent, ...options }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          resolve({ status: res.statusCode, headers: res.headers, body: raw.length > 1024 ? undefined : String(raw), raw, reused: req.reusedSocket });
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code }));
      req.end(body);
    }),
    bound(60_000),
    'http request',
  );
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const BIG = (GUEST ? 4 : 16) << 20;

function handler(log: string[]): http.RequestListener {
  return (req, res) => {
    log.push(`server:${req.method} ${req.url}`);
    if (req.url === '/echo') {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (d: Buffer) => {
        h.update(d);
        n += d.length;
      });
      req.on('end', () => {
        const digest = h.digest('hex');
        log.push(`server:received ${n} ${digest.slice(0, 16)}`);
        res.setHeader('x-sha256', digest);
        res.end(Buffer.alloc(n, 0x61));
      });
      return;
    }
    if (req.url === '/slow') {
      // Headers now, the body never: the client aborts.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      req.on('close', () => log.push(`server:request close, aborted ${req.aborted}`));
      res.on('close', () => log.push(`server:response close, finished ${res.writableFinished}`));
      return;
    }
    res.setHeader('content-type', 'text/plain');
    res.end(`hello ${req.url}`);
  };
}

type Script = (T: Transport) => Promise<unknown>;

const scripts: Record<string, Script> = {
  async 'a request and its response'(T) {
    const log: string[] = [];
    const httpServer = http.createServer(handler(log));
    const srv = await T.serve(httpServer);
    const agent = T.agent({ keepAlive: false });
    const r = await request(agent, { path: '/a' });
    await srv.close();
    agent.destroy();
    return { log, status: r.status, body: r.body, type: r.headers?.['content-type'], connection: r.headers?.connection };
  },

  async 'keep-alive: the second request reuses the connection'(T) {
    const log: string[] = [];
    const httpServer = http.createServer(handler(log));
    const srv = await T.serve(httpServer);
    const agent = T.agent({ keepAlive: true, maxSockets: 1 });
    const replies: Array<Omit<Reply, 'headers'>> = [];
    for (const path of ['/one', '/two', '/three']) {
      const r = await request(agent, { path });
      replies.push({ status: r.status, body: r.body, reused: r.reused });
    }
    const connections = srv.connections();
    agent.destroy();
    await srv.close();
    return { log, replies, connections };
  },

  async 'a large body both ways'(T) {
    const log: string[] = [];
    const httpServer = http.createServer(handler(log));
    const srv = await T.serve(httpServer);
    const agent = T.agent({ keepAlive: true });
    const body = Buffer.alloc(BIG);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32LE((i * 2654435761) >>> 0, i);
    const r = await request(agent, { method: 'POST', path: '/echo' }, body);
    agent.destroy();
    await srv.close();
    return {
      log,
      status: r.status,
      shaMatches: r.headers?.['x-sha256'] === sha(body),
      replyLength: r.raw?.length,
      replyIntact: r.raw?.equals(Buffer.alloc(BIG, 0x61)),
    };
  },

  async 'a client abort'(T) {
    const log: string[] = [];
    const httpServer = http.createServer(handler(log));
    const srv = await T.serve(httpServer);
    const agent = T.agent({ keepAlive: false });
    const serverClosed = new Promise<void>((resolve) => {
      const check = () => (log.some((l) => l.startsWith('server:response close')) ? resolve() : setTimeout(check, 5));
      check();
    });
    const outcome = await within(
      new Promise<string[]>((resolve) => {
        const events: string[] = [];
        const req = http.request({ host: 'scif.invalid', agent, path: '/slow' }, (res) => {
          events.push(`response:${res.statusCode}`);
          res.once('data', (d) => {
            events.push(`data:${d}`);
            req.destroy();
          });
          res.on('aborted', () => events.push('res:aborted'));
          res.on('error', (e: NodeJS.ErrnoException) => events.push(`res:error:${e.code}`));
          res.on('close', () => {
            events.push('res:close');
            setTimeout(() => resolve(events), 20);
          });
        });
        req.on('error', (e: NodeJS.ErrnoException) => events.push(`req:error:${e.code}`));
        req.on('close', () => events.push('req:close'));
        req.end();
      }),
      bound(30_000),
      'abort',
    );
    await within(serverClosed, bound(30_000), 'server sees the abort');
    agent.destroy();
    await srv.close();
    return { log, outcome };
  },
};

describe('http over scif: the same script on net and on scif', () => {
  for (const [name, script] of Object.entries(scripts)) {
    it(name, async () => {
      const expected = await script(NET);
      const actual = await script(SCIF);
      expect(actual).toEqual(expected);
    });
  }
});
