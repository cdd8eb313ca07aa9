import { randomBytes } from 'node:crypto';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { http, newClient } from './support/harness.ts';

let client: Buntime;
let key: string;
let cleanup: () => Promise<void>;
let sessionId: string;

beforeAll(async () => {
  let account;
  ({ client, cleanup, account } = await newClient());
  key = account.key;
  sessionId = (await client.sessions.create()).id;
});
afterAll(() => cleanup());

async function packTree(files: Record<string, Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name }, body);
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const c of pack) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function unpackTree(bytes: Uint8Array): Promise<Record<string, Buffer>> {
  const extract = tar.extract();
  const out: Record<string, Buffer> = {};
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => { parts.push(c as Buffer); });
      stream.on('end', () => { if (h.type === 'file') out[h.name] = Buffer.concat(parts); next(); });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(Buffer.from(bytes));
  await done;
  return out;
}

describe('files', () => {
  it('writes a file that a program then runs', async () => {
    const w = await client.files.write(sessionId, 'hello.ts', 'console.log("Hello World!");\n');
    expect(w).toEqual({ path: 'hello.ts', size: 29 });
    const r = await client.execute({ sessionId, command: 'bun run hello.ts' });
    expect(r.stdout).toBe('Hello World!\n');
  });

  it('round-trips a 1 MB random binary file through base64', async () => {
    const bytes = randomBytes(1024 * 1024);
    await client.files.write(sessionId, 'bin/random.dat', bytes);
    const back = await client.files.read(sessionId, 'bin/random.dat');
    expect(Buffer.from(back).equals(bytes)).toBe(true);
    const sum = await client.execute({ sessionId, command: 'sha256sum bin/random.dat | cut -d" " -f1' });
    expect(sum.stdout.trim()).toBe(require('node:crypto').createHash('sha256').update(bytes).digest('hex'));
  });

  it('uploads a 200-file tree as tar and downloads an identical tree', async () => {
    const tree: Record<string, Buffer> = {};
    for (let i = 0; i < 200; i++) tree[`d${i % 7}/sub${i % 3}/f${i}.txt`] = randomBytes(64 + i);
    const up = await client.files.upload(sessionId, 'tree', await packTree(tree));
    expect(up.files).toBe(200);
    const down = await unpackTree(await client.files.download(sessionId, 'tree'));
    expect(Object.keys(down).sort()).toEqual(Object.keys(tree).sort());
    for (const [name, body] of Object.entries(tree)) expect(down[name]!.equals(body)).toBe(true);
  });

  it('lists recursively with paths relative to /workspace and pages with limit/offset', async () => {
    await client.files.write(sessionId, 'list/a.txt', 'a');
    await client.files.write(sessionId, 'list/b/c.txt', 'cc');
    const all = await client.files.list(sessionId, { path: 'list' });
    expect(all.files.map((f) => f.path)).toEqual(['list/a.txt', 'list/b', 'list/b/c.txt']);
    expect(all.total).toBe(3);
    expect(all.files.find((f) => f.path === 'list/b/c.txt')).toMatchObject({ size: 2, type: 'file' });
    expect(Date.parse(all.files[0]!.modified)).toBeGreaterThan(0);
    const page = await client.files.list(sessionId, { path: 'list', limit: 1, offset: 1 });
    expect(page.files.map((f) => f.path)).toEqual(['list/b']);
    expect(page.total).toBe(3);
  });

  it('deletes a file and then answers 404 for it', async () => {
    await client.files.write(sessionId, 'gone.txt', 'x');
    expect(await client.files.delete(sessionId, 'gone.txt')).toEqual({ deleted: true, path: 'gone.txt' });
    await expect(client.files.read(sessionId, 'gone.txt')).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('refuses ../, absolute and symlink escapes with 400 and changes nothing', async () => {
    await client.execute({ sessionId, command: 'ln -sf / rootlink; ln -sf /etc/passwd passwdlink; mkdir -p real && ln -sfn /tmp real/tmplink' });
    const attempts = [
      () => client.files.read(sessionId, '../etc/passwd'),
      () => client.files.read(sessionId, '/etc/passwd'),
      () => client.files.read(sessionId, 'rootlink/etc/passwd'),
      () => client.files.read(sessionId, 'passwdlink'),
      () => client.files.write(sessionId, 'rootlink/tmp/evil', 'x'),
      () => client.files.write(sessionId, 'real/tmplink/evil', 'x'),
      () => client.files.write(sessionId, '../evil', 'x'),
      () => client.files.list(sessionId, { path: 'rootlink' }),
      () => client.files.delete(sessionId, 'rootlink/tmp'),
      () => client.execute({ sessionId, command: 'true', files: [{ path: 'rootlink/tmp/evil2', content: 'x' }] }),
    ];
    for (const attempt of attempts) await expect(attempt()).rejects.toMatchObject({ status: 400, code: 'invalid_request' });
    const check = await client.execute({ sessionId, command: 'ls /tmp/evil /tmp/evil2 2>&1 | grep -c "No such file"' });
    expect(check.stdout.trim()).toBe('2');
  });

  it('refuses a file over the plan limit with 413', async () => {
    const res = await http('POST', '/files/write', { key, body: { sessionId, path: 'big.bin', content: Buffer.alloc(10 * 1024 * 1024 + 1).toString('base64'), encoding: 'base64' } });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('payload_too_large');
  });
});

describe('processes', () => {
  it('runs a background server reachable from later executions, lists it, and kills it', async () => {
    const bg = await client.spawn({ sessionId, code: 'Bun.serve({ port: 8080, fetch: () => new Response("pong") }); console.log("up")' });
    expect(bg.pid).toBeGreaterThan(0);
    expect(bg.executionId).toMatch(/^exec_/);
    let body = '';
    for (let i = 0; i < 50 && body !== 'pong'; i++) {
      const r = await client.execute({ sessionId, code: 'try { console.log(await (await fetch("http://127.0.0.1:8080")).text()) } catch { console.log("down") }' });
      body = r.stdout.trim();
      if (body !== 'pong') await new Promise((res) => setTimeout(res, 100));
    }
    expect(body).toBe('pong');
    const list = await client.processes.list(sessionId);
    expect(list.some((p) => p.pid === bg.pid && p.executionId === bg.executionId)).toBe(true);
    expect((await client.sessions.get(sessionId)).activeProcesses).toBeGreaterThanOrEqual(1);
    const killed = await client.processes.kill(sessionId, bg.pid);
    expect(killed.killed).toBe(true);
    expect(killed.pids).toContain(bg.pid);
    const after = await client.execute({ sessionId, code: 'try { await fetch("http://127.0.0.1:8080"); console.log("up") } catch { console.log("down") }' });
    expect(after.stdout).toBe('down\n');
    expect((await client.processes.list(sessionId)).some((p) => p.pid === bg.pid)).toBe(false);
  });

  it('kills a whole tree and leaves no process behind', async () => {
    const bg = await client.spawn({ sessionId, command: 'sh -c "sleep 100 & sleep 100"' });
    await new Promise((r) => setTimeout(r, 200));
    const before = await client.execute({ sessionId, command: 'ps -o args | grep -cx "sleep 100"' });
    expect(before.stdout.trim()).toBe('2');
    await client.processes.kill(sessionId, bg.pid);
    const after = await client.execute({ sessionId, command: 'ps -o args | grep -cx "sleep 100"' });
    expect(after.stdout.trim()).toBe('0');
  });

  it('kills every user process when no pid is given', async () => {
    await client.spawn({ sessionId, command: 'sleep 101' });
    await client.spawn({ sessionId, command: 'sleep 102' });
    const r = await client.processes.kill(sessionId);
    expect(r.pids.length).toBeGreaterThanOrEqual(2);
    expect(await client.processes.list(sessionId)).toEqual([]);
  });

  it('answers 404 for an unknown pid', async () => {
    await expect(client.processes.kill(sessionId, 999_999)).rejects.toMatchObject({ status: 404 });
  });
});
