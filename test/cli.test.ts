// The `scif` command (bin/scif.js), run as a user runs it: spawned processes,
// stdin/stdout pipes, exit codes. Node 0 listens, node 1 connects (SCIF_NODE),
// on whichever provider this suite runs on (user on the host, kernel in the guest).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bound, ROOT } from './helpers';

const BIN = path.join(ROOT, 'bin', 'scif.js');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Result { code: number | null; out: Buffer; err: string }

function start(args: string[], node: number, input?: Buffer | string): { child: ChildProcess; done: Promise<Result> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, SCIF_NODE: String(node) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (t: string) => { err += t; });
  child.stdin!.on('error', () => {});
  if (input !== undefined) child.stdin!.end(input);
  const done = new Promise<Result>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`scif ${args.join(' ')} timed out; stderr: ${err}`)); }, bound(30_000));
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out: Buffer.concat(out), err }); });
  });
  return { child, done };
}

const run = (args: string[], node = 1, input?: Buffer | string) => start(args, node, input ?? '').done;

/** Starts a listening command on node 0 with -v and resolves with its port. */
async function listening(args: string[], input?: Buffer | string) {
  const s = start([...args, '-v'], 0, input);
  let err = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${err}`)), bound(20_000));
    s.child.stderr!.on('data', (t: string) => {
      err += t;
      const m = /listening 0:(\d+)/.exec(err);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    s.child.on('close', () => reject(new Error(`exited: ${err}`)));
  });
  return { ...s, port };
}

function bytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE((i * 2654435761) >>> 0, i);
  return b;
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('scif command', () => {
  it('--help for the command and for each subcommand; usage errors exit 2', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['nodes', 'listen', 'connect', 'ping', 'send-file', 'recv-file']) {
      expect(top.out.toString()).toContain(c);
      const r = await run([c, '--help']);
      expect(r.code, c).toBe(0);
      expect(r.out.toString()).toMatch(new RegExp(`^Usage: scif ${c}`));
    }
    for (const args of [[], ['bogus'], ['connect'], ['connect', '1:x'], ['listen', '70000'], ['ping', '0:1', '-c', '0'], ['nodes', '--nope']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(/^scif: /);
    }
  });

  it('nodes: this node and the online nodes', async () => {
    const r = await run(['nodes', '--json'], 1);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out.toString());
    expect(j.self).toBe(1);
    expect(j.nodes).toEqual(expect.arrayContaining([0, 1]));
    const t = await run(['nodes'], 0);
    expect(t.out.toString()).toMatch(/^self 0\nnodes 0 1/);
  });

  it('connect to a closed port: a message on stderr, exit 1', async () => {
    const l = await listening(['listen', '0', '--echo']);
    l.child.kill('SIGTERM');
    await l.done;
    const r = await run(['connect', `0:${l.port}`]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^scif: connect 0:\d+: .*ECONNREFUSED/);
  });

  it('connect pipes stdin to listen\'s stdout (tar c dir | scif connect ...)', async () => {
    const data = bytes(3 << 20);
    const l = await listening(['listen', '0', '--recv-only']);
    const c = await run(['connect', `0:${l.port}`], 1, data);
    expect(c.code).toBe(0);
    const r = await l.done;
    expect(r.code).toBe(0);
    expect(sha(r.out)).toBe(sha(data));
  });

  it('listen --exec runs a command on the connection; connect -w reads until it closes', async () => {
    const l = await listening(['listen', '0', '--exec', 'head -n 1 | tr a-z A-Z']);
    const c = await run(['connect', `0:${l.port}`, '-w'], 1, 'hello scif\n');
    // SCIF has no half-close: the command ends by itself (head -n 1), and
    // connect reads the reply until the exec side closes.
    expect(c.out.toString()).toBe('HELLO SCIF\n');
    expect(c.code).toBe(0);
    expect((await l.done).code).toBe(0);
  });

  it('ping: round-trip statistics as ping prints them', async () => {
    const l = await listening(['listen', '0', '--echo', '-k']);
    const r = await run(['ping', `0:${l.port}`, '-c', '4', '-i', '0.01', '-s', '100']);
    const text = r.out.toString();
    expect(r.code).toBe(0);
    expect(text).toMatch(/^PING 0:\d+: 100 data bytes$/m);
    expect(text.match(/^100 bytes from 0:\d+: seq=\d+ time=[\d.]+ ms$/gm)).toHaveLength(4);
    expect(text).toMatch(/^4 packets transmitted, 4 received, 0% packet loss, time \d+ms$/m);
    expect(text).toMatch(/^rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms$/m);
  });

  it('send-file / recv-file: the file arrives and both SHA-256s are printed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scif-cli-'));
    try {
      const data = bytes(5 << 20);
      const src = path.join(dir, 'in.bin');
      const dst = path.join(dir, 'out.bin');
      fs.writeFileSync(src, data);
      const l = await listening(['recv-file', '0', '-o', dst]);
      const s = await run(['send-file', `0:${l.port}`, src]);
      expect(s.code).toBe(0);
      expect(s.out.toString()).toBe(`${sha(data)}  ${src}\n`);
      const r = await l.done;
      expect(r.code).toBe(0);
      expect(r.out.toString()).toBe(`${sha(data)}  ${dst}\n`);
      expect(sha(fs.readFileSync(dst))).toBe(sha(data));
      const missing = await run(['send-file', `0:${l.port}`, path.join(dir, 'nope')]);
      expect(missing.code).toBe(1);
      expect(missing.err).toMatch(/ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
