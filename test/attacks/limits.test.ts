import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { apiUrl, newClient } from '../support/harness.ts';

let client: Buntime;
let cleanup: () => Promise<void>;
let small: string;

beforeAll(async () => {
  ({ client, cleanup } = await newClient('paid'));
  small = (await client.sessions.create({ resourceLimits: { memory: 256, cpu: 1, disk: 64 } })).id;
});
afterAll(() => cleanup());

/** User processes left in the session, apart from the `ps` pipeline asking. */
/** User processes still alive: not root's, not the agent's change watch (which runs as the session uid). */
async function leftovers(sessionId: string): Promise<string[]> {
  const r = await client.execute({ sessionId, command: 'ps -o pid,user,args' });
  return r.stdout.split('\n').slice(1).filter((l) => l.trim() && !/\bps -o|sh -c ps/.test(l) && !/^\s*\d+\s+(root|0)\s/.test(l)
    && !/^\s*\d+\s+\d+\s+\/opt\/buntime\/watcher /.test(l));
}

describe('limits', () => {
  it('kills an infinite loop at its timeout, keeps partial output and leaves nothing behind', async () => {
    const started = Date.now();
    const r = await client.execute({
      sessionId: small,
      command: 'setsid sleep 300 & (sleep 200 &) ; echo before; while :; do :; done',
      timeout: 2,
    });
    const took = Date.now() - started;
    expect(took).toBeLessThan(3000);
    expect(r.timedOut).toBe(true);
    expect(r.status).toBe('timeout');
    expect(r.stdout).toBe('before\n');
    expect(await leftovers(small)).toEqual([]);
  });

  it('survives a fork bomb and stays usable', async () => {
    const r = await client.execute({ sessionId: small, command: 'bomb() { bomb | bomb & }; bomb; sleep 3', timeout: 5 });
    expect(['ok', 'timeout', 'error']).toContain(r.status);
    const after = await client.execute({ sessionId: small, command: 'echo alive' });
    expect(after.stdout).toBe('alive\n');
    expect(await leftovers(small)).toEqual([]);
  });

  it('survives a spawn storm and stays usable', async () => {
    const shell = await client.execute({ sessionId: small, command: 'for i in $(seq 1 2000); do sleep 60 & done; echo looped', timeout: 10 });
    // The storm runs into the session's process limit; the shell gives up, the session does not.
    expect(shell.stderr).toContain("can't fork");
    // Bun may abort once spawn keeps failing at the pids limit: that is the program's result.
    const bun = await client.execute({
      sessionId: small,
      code: 'const ps = []; for (let i = 0; i < 2000; i++) { try { ps.push(Bun.spawn(["sleep", "60"])); } catch { } } console.log("spawned", ps.length);',
      timeout: 10,
    });
    expect(['ok', 'killed', 'error']).toContain(bun.status);
    expect(bun.timedOut).toBe(false);
    expect((await client.execute({ sessionId: small, code: 'console.log(6*7)' })).stdout).toBe('42\n');
    expect(await leftovers(small)).toEqual([]);
  });

  it('reports oom when a program allocates far past the memory limit, then keeps working', async () => {
    const r = await client.execute({
      sessionId: small,
      code: 'const keep = []; for (let i = 0; i < 64; i++) { const b = Buffer.alloc(32 * 1024 * 1024, i); keep.push(b); } console.log(keep.length);',
      timeout: 20,
    });
    expect(r.status).toBe('oom');
    expect(r.exitCode).not.toBe(0);
    const after = await client.execute({ sessionId: small, command: 'echo still here' });
    expect(after.stdout).toBe('still here\n');
  });

  it('caps 60 MB of stdout, flags it, and keeps the API memory bounded', async () => {
    const rssBefore = apiRssBytes();
    const r = await client.execute({
      sessionId: small,
      code: 'const line = "x".repeat(1023) + "\\n"; const chunk = line.repeat(1024); for (let i = 0; i < 60; i++) process.stdout.write(chunk); console.error("done");',
      timeout: 20,
    });
    expect(r.status).toBe('ok');
    expect(r.stdoutTruncated).toBe(true);
    expect(Buffer.byteLength(r.stdout)).toBe(1024 * 1024);
    expect(r.stderr).toBe('done\n');
    expect(apiRssBytes() - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it('fails writes past the disk limit inside the sandbox', async () => {
    const r = await client.execute({
      sessionId: small,
      command: 'dd if=/dev/zero of=/workspace/big bs=1M count=100 2>&1; echo "exit=$?"; rm -f /workspace/big',
      timeout: 20,
    });
    expect(r.stdout).toMatch(/No space left on device/);
    expect(r.stdout).not.toContain('exit=0');
  });

  it('answers 507 disk_full when a file write would pass the disk limit, and writes nothing', async () => {
    await client.execute({ sessionId: small, command: 'dd if=/dev/zero of=/workspace/filler bs=1M count=60 2>/dev/null; true' });
    await expect(client.files.write(small, 'more.bin', new Uint8Array(8 * 1024 * 1024)))
      .rejects.toMatchObject({ status: 507, code: 'disk_full' });
    const ls = await client.execute({ sessionId: small, command: 'ls /workspace; rm -f /workspace/filler' });
    expect(ls.stdout).not.toContain('more.bin');
    expect((await client.files.write(small, 'more.bin', new Uint8Array(8 * 1024 * 1024)))).toMatchObject({ size: 8 * 1024 * 1024 });
    expect((await client.sessions.get(small)).filesCount).toBeGreaterThanOrEqual(1);
    await client.files.delete(small, 'more.bin');
  });

  it('reaches nothing but through the egress proxy, which refuses private addresses and unknown names; the host API is out of reach', async () => {
    const port = new URL(apiUrl()).port;
    // The suite resolves names statically (nothing is ever looked up) and guards every dial.
    const r = await client.execute({
      sessionId: small,
      code: `
        const results = [];
        for (const url of ["http://127.0.0.1:${port}/health", "http://example.com/", "http://10.0.0.1/"]) {
          try {
            const res = await fetch(url, { proxy: process.env.HTTP_PROXY, signal: AbortSignal.timeout(3000) });
            results.push(res.status + ":" + (res.headers.get("x-buntime-egress") ?? "-"));
          } catch { results.push("blocked"); }
        }
        try { await Bun.connect({ hostname: "127.0.0.1", port: 6399, socket: { data() {} } }); results.push("tcp open"); }
        catch { results.push("blocked"); }
        console.log(results.join(","));
        const ifaces = require("node:os").networkInterfaces();
        console.log(Object.keys(ifaces).join(","));
      `,
      timeout: 20,
    });
    const [api, name, privateAddress, tcp] = r.stdout.split('\n')[0]!.split(',');
    // Loopback stays direct (NO_PROXY): the container's own loopback, where the API is not.
    expect(api).toBe('blocked');
    expect(name).toMatch(/^502:/);
    expect(privateAddress).toMatch(/^403:/);
    expect(tcp).toBe('blocked');
    expect(r.stdout.split('\n')[1]).toBe('lo');
  });
});

/** Resident memory of the process that serves the API in this test run (vitest's main process). */
function apiRssBytes(): number {
  const status = readFileSync(`/proc/${process.ppid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}
