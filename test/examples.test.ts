// The examples run as a user runs them (one command each), on whichever
// provider this suite runs on: the user provider on the host, scif.ko's
// kernel provider in the guest.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bound, GUEST, ROOT } from './helpers';

function run(script: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'examples', script), ...args],
      { env: { ...process.env, ...env }, timeout: bound(60_000), maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, out: stdout + stderr });
      },
    );
  });
}

describe('examples', () => {
  it('echo.js: a server on node 0 echoes a client on node 1', async () => {
    const r = await run('echo.js', ['first line', 'second line']);
    expect(r.out).toMatch(/^listening 0:\d+$/m);
    expect(r.out).toMatch(/connection from 1:\d+/);
    expect(r.out).toContain('echoed "first line"');
    expect(r.out).toContain('echoed "second line"');
    expect(r.code).toBe(0);
  });

  it('file-pipe.js: node 0 sends a file to node 1 and both SHA-256s match', async () => {
    const file = path.join(os.tmpdir(), `scif-example-${process.pid}.bin`);
    const data = Buffer.alloc((GUEST ? 4 : 32) << 20);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    fs.writeFileSync(file, data);
    try {
      const r = await run('file-pipe.js', [file]);
      const sums = [...r.out.matchAll(/sha256 ([0-9a-f]{64})/g)].map((m) => m[1]);
      expect(sums).toHaveLength(2);
      expect(sums[0]).toBe(sums[1]);
      expect(r.out).toContain('file-pipe: SHA-256 match');
      expect(r.code).toBe(0);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('rma-bulk.js: RMA into node 1 with a fence signal; both SHA-256s match', async () => {
    const r = await run('rma-bulk.js', [GUEST ? '4' : '32']);
    const sums = [...r.out.matchAll(/sha256 ([0-9a-f]{64})/g)].map((m) => m[1]);
    expect(sums).toHaveLength(2);
    expect(sums[0]).toBe(sums[1]);
    expect(r.out).toContain('rma-bulk: SHA-256 match');
    expect(r.code).toBe(0);
  });

  it("rma-pingpong.js: a counter bounced through an mmap'ed window", async () => {
    const rounds = GUEST ? 200 : 5000;
    const r = await run('rma-pingpong.js', [String(rounds)]);
    expect(r.out).toContain(`${rounds} round trips of 4 bytes through an mmap'ed window`);
    expect(r.code).toBe(0);
  });

  it('http.js: http.createServer and an http.Agent over scif (keep-alive, a large body)', async () => {
    const r = await run('http.js', [GUEST ? '2' : '8']);
    expect(r.out).toMatch(/^http over scif on 0:\d+$/m);
    expect(r.out).toContain('GET /first -> 200 hello from node 0, GET /first');
    expect(r.out).toContain('keep-alive: second request reused the connection: true');
    expect(r.out).toMatch(/POST \d+ bytes -> \d+ received, SHA-256 match/);
    expect(r.code).toBe(0);
  });
});
