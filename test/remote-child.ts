// A fixture process in the other guest of a SCIF link (test/guest/link-node.sh): spawned by
// test/guest/fixture-agent.js there and driven over the virtio-net link, so that the
// suite's two-process cases run with the two processes in two kernels. It offers the part
// of ChildProcess the suite uses: stdin/stdout/stderr streams, kill(), exitCode/signalCode
// and the 'exit' and 'close' events.
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import type { ChildProcess } from 'node:child_process';

/** The agent's address when this process runs on a link ("[addr%if]:port"), else undefined. */
export const LINK_AGENT = process.env.SCIF_LINK_AGENT;

function parseAgent(spec: string): { host: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(spec);
  if (!m) throw new Error(`SCIF_LINK_AGENT=${spec}: expected [address]:port`);
  return { host: m[1], port: Number(m[2]) };
}

class RemoteChild extends EventEmitter {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin: Writable;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  pid: number | undefined;
  private readonly sock: net.Socket;

  constructor(name: string, args: string[], env: Record<string, string>) {
    super();
    this.sock = net.connect(parseAgent(LINK_AGENT!));
    const send = (m: unknown): void => {
      if (!this.sock.destroyed) this.sock.write(JSON.stringify(m) + '\n');
    };
    this.stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        send({ stdin: chunk.toString('base64') });
        cb();
      },
      final(cb) {
        send({ end: true });
        cb();
      },
    });
    send({ spawn: { name, args, env } });
    let buffered = '';
    let exited = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (exited) return;
      exited = true;
      this.exitCode = code;
      this.signalCode = signal;
      this.emit('exit', code, signal);
      this.stdout.end();
      this.stderr.end();
      this.emit('close', code, signal);
    };
    this.sock.setEncoding('utf8');
    this.sock.on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const m = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
        buffered = buffered.slice(nl + 1);
        if (typeof m.spawned === 'number') this.pid = m.spawned;
        else if (typeof m.stdout === 'string') this.stdout.write(Buffer.from(m.stdout, 'base64'));
        else if (typeof m.stderr === 'string') this.stderr.write(Buffer.from(m.stderr, 'base64'));
        else if (m.exit) {
          const e = m.exit as { code: number | null; signal: NodeJS.Signals | null };
          finish(e.code, e.signal);
        }
      }
    });
    this.sock.on('error', (err) => {
      this.stderr.write(`remote fixture: ${err.message}\n`);
    });
    this.sock.on('close', () => finish(null, 'SIGKILL'));
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.exitCode !== null || this.signalCode !== null) return false;
    this.sock.write(JSON.stringify({ kill: signal }) + '\n');
    return true;
  }
}

/** Spawns test/fixtures/<name> in the other guest; the result stands in for a ChildProcess. */
export function spawnRemote(name: string, args: string[], env: Record<string, string>): ChildProcess {
  return new RemoteChild(name, args, env) as unknown as ChildProcess;
}
