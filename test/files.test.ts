import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import tar from 'tar-stream';
import { Queue } from 'bullmq';
import { describe, expect, inject, it } from 'vitest';
import { bullPrefix, nodeQueueName } from '../core/queues.ts';
import Docker from 'dockerode';
import { apiUrl, http, newClient, testRedis, useSession } from './support/harness.ts';

const s = useSession();

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
    const w = await s.client.files.write(s.sessionId, 'hello.ts', 'console.log("Hello World!");\n');
    expect(w).toEqual({ path: 'hello.ts', size: 29 });
    const r = await s.client.execute({ sessionId: s.sessionId, command: 'bun run hello.ts' });
    expect(r.stdout).toBe('Hello World!\n');
  });

  it('round-trips a 1 MB random binary file through base64', async () => {
    const bytes = randomBytes(1024 * 1024);
    await s.client.files.write(s.sessionId, 'bin/random.dat', bytes);
    const back = await s.client.files.read(s.sessionId, 'bin/random.dat');
    expect(Buffer.from(back).equals(bytes)).toBe(true);
    const sum = await s.client.execute({ sessionId: s.sessionId, command: 'sha256sum bin/random.dat | cut -d" " -f1' });
    expect(sum.stdout.trim()).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('writes raw bytes streamed without a length, and a cut stream changes nothing', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const send = (path: string, cutAfter?: number) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${apiUrl()}/files/write?sessionId=${s.sessionId}&path=${path}`, {
        method: 'POST', headers: { authorization: `Bearer ${s.key}`, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
      }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += String(c); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', (err) => (cutAfter === undefined ? reject(err) : resolve({ status: 0, body: String(err) })));
      for (let off = 0; off < bytes.length; off += 256 * 1024) {
        if (cutAfter !== undefined && off >= cutAfter) {
          // The client goes away mid-body: the write must leave nothing behind.
          setTimeout(() => req.destroy(), 200);
          return;
        }
        req.write(bytes.subarray(off, off + 256 * 1024));
      }
      req.end();
    });
    const ok = await send('streamed.bin');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ path: 'streamed.bin', size: bytes.length });
    expect(Buffer.from(await s.client.files.read(s.sessionId, 'streamed.bin')).equals(bytes)).toBe(true);

    await send('cut.bin', 1024 * 1024);
    // The agent drops the partial file (its temp `.cut.bin.*.part`) once the stream is cut;
    // a wrong end (the cut taken for the end) would have committed cut.bin by now.
    await new Promise((r) => setTimeout(r, 500));
    let names: string[] = [];
    for (let i = 0; i < 50; i++) {
      names = (await s.client.files.list(s.sessionId)).files.map((f) => f.path);
      if (!names.some((f) => f.endsWith('.part'))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(names).toContain('streamed.bin');
    expect(names.filter((f) => f.startsWith('cut.bin') || f.endsWith('.part'))).toEqual([]);
  });

  it('uploads a 200-file tree as tar and downloads an identical tree', async () => {
    const tree: Record<string, Buffer> = {};
    for (let i = 0; i < 200; i++) tree[`d${i % 7}/sub${i % 3}/f${i}.txt`] = randomBytes(64 + i);
    const up = await s.client.files.upload(s.sessionId, 'tree', await packTree(tree));
    expect(up.files).toBe(200);
    const down = await unpackTree(await s.client.files.download(s.sessionId, 'tree'));
    expect(Object.keys(down).sort()).toEqual(Object.keys(tree).sort());
    for (const [name, body] of Object.entries(tree)) expect(down[name]!.equals(body)).toBe(true);
  });

  it('lists recursively with paths relative to /workspace and pages with limit/offset', async () => {
    await s.client.files.write(s.sessionId, 'list/a.txt', 'a');
    await s.client.files.write(s.sessionId, 'list/b/c.txt', 'cc');
    const all = await s.client.files.list(s.sessionId, { path: 'list' });
    expect(all.files.map((f) => f.path)).toEqual(['list/a.txt', 'list/b', 'list/b/c.txt']);
    expect(all.total).toBe(3);
    expect(all.files.find((f) => f.path === 'list/b/c.txt')).toMatchObject({ size: 2, type: 'file' });
    expect(Date.parse(all.files[0]!.modified)).toBeGreaterThan(0);
    const page = await s.client.files.list(s.sessionId, { path: 'list', limit: 1, offset: 1 });
    expect(page.files.map((f) => f.path)).toEqual(['list/b']);
    expect(page.total).toBe(3);
  });

  it('deletes a file and then answers 404 for it', async () => {
    await s.client.files.write(s.sessionId, 'gone.txt', 'x');
    expect(await s.client.files.delete(s.sessionId, 'gone.txt')).toEqual({ deleted: true, path: 'gone.txt' });
    await expect(s.client.files.read(s.sessionId, 'gone.txt')).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('refuses ../, absolute and symlink escapes with 400 and changes nothing', async () => {
    await s.client.execute({ sessionId: s.sessionId, command: 'ln -sf / rootlink; ln -sf /etc/passwd passwdlink; mkdir -p real && ln -sfn /tmp real/tmplink' });
    const attempts = [
      () => s.client.files.read(s.sessionId, '../etc/passwd'),
      () => s.client.files.read(s.sessionId, '/etc/passwd'),
      () => s.client.files.read(s.sessionId, 'rootlink/etc/passwd'),
      () => s.client.files.read(s.sessionId, 'passwdlink'),
      () => s.client.files.write(s.sessionId, 'rootlink/tmp/evil', 'x'),
      () => s.client.files.write(s.sessionId, 'real/tmplink/evil', 'x'),
      () => s.client.files.write(s.sessionId, '../evil', 'x'),
      () => s.client.files.list(s.sessionId, { path: 'rootlink' }),
      () => s.client.files.delete(s.sessionId, 'rootlink/tmp'),
      () => s.client.execute({ sessionId: s.sessionId, command: 'true', files: [{ path: 'rootlink/tmp/evil2', content: 'x' }] }),
    ];
    for (const attempt of attempts) await expect(attempt()).rejects.toMatchObject({ status: 400, code: 'invalid_request' });
    const check = await s.client.execute({ sessionId: s.sessionId, command: 'ls /tmp/evil /tmp/evil2 2>&1 | grep -c "No such file"' });
    expect(check.stdout.trim()).toBe('2');
  });

  it('refuses a file over the plan limit with 413', async () => {
    const res = await http('POST', '/files/write', { key: s.key, body: { sessionId: s.sessionId, path: 'big.bin', content: Buffer.alloc(10 * 1024 * 1024 + 1).toString('base64'), encoding: 'base64' } });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('payload_too_large');
  });

  it('refuses to download a tree holding a file over the plan limit, before sending any byte', async () => {
    await s.client.execute({ sessionId: s.sessionId, command: 'mkdir -p bigtree && head -c 10485761 /dev/zero > bigtree/big.bin && echo x > bigtree/small.txt' });
    const res = await http('GET', `/files/download?sessionId=${s.sessionId}&path=bigtree`, { key: s.key });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('payload_too_large');
    await s.client.execute({ sessionId: s.sessionId, command: 'rm -r bigtree' });
  });

  it('keeps no failed job for an answer that is a user error', async () => {
    const missing = await http('GET', `/files/read?sessionId=${s.sessionId}&path=no/such/file`, { key: s.key });
    expect(missing.status).toBe(404);
    const { redis, keys } = testRedis();
    const queue = new Queue(nodeQueueName(inject('nodeId'), 'data'), { connection: redis, prefix: bullPrefix(keys.prefix) });
    try {
      const failed = await queue.getFailed(0, 1000);
      expect(failed.filter((j) => (j.data as { p?: { sessionId?: string } }).p?.sessionId === s.sessionId)).toEqual([]);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });
});

describe('processes', () => {
  it('runs a background server reachable from later executions, lists it, and kills it', async () => {
    const bg = await s.client.spawn({ sessionId: s.sessionId, code: 'Bun.serve({ port: 8080, fetch: () => new Response("pong") }); console.log("up")' });
    expect(bg.pid).toBeGreaterThan(0);
    expect(bg.executionId).toMatch(/^exec_/);
    let body = '';
    for (let i = 0; i < 50 && body !== 'pong'; i++) {
      const r = await s.client.execute({ sessionId: s.sessionId, code: 'try { console.log(await (await fetch("http://127.0.0.1:8080")).text()) } catch { console.log("down") }' });
      body = r.stdout.trim();
      if (body !== 'pong') await new Promise((res) => setTimeout(res, 100));
    }
    expect(body).toBe('pong');
    const list = await s.client.processes.list(s.sessionId);
    expect(list.some((p) => p.pid === bg.pid && p.executionId === bg.executionId)).toBe(true);
    expect((await s.client.sessions.get(s.sessionId)).activeProcesses).toBeGreaterThanOrEqual(1);
    const killed = await s.client.processes.kill(s.sessionId, bg.pid);
    expect(killed.killed).toBe(true);
    expect(killed.pids).toContain(bg.pid);
    const after = await s.client.execute({ sessionId: s.sessionId, code: 'try { await fetch("http://127.0.0.1:8080"); console.log("up") } catch { console.log("down") }' });
    expect(after.stdout).toBe('down\n');
    expect((await s.client.processes.list(s.sessionId)).some((p) => p.pid === bg.pid)).toBe(false);
  });

  it('kills a whole tree and leaves no process behind', async () => {
    const bg = await s.client.spawn({ sessionId: s.sessionId, command: 'sh -c "sleep 100 & sleep 100"' });
    const count = async () => (await s.client.execute({ sessionId: s.sessionId, command: 'ps -o args | grep -cx "sleep 100"' })).stdout.trim();
    await expect.poll(count, { timeout: 10_000 }).toBe('2');
    await s.client.processes.kill(s.sessionId, bg.pid);
    expect(await count()).toBe('0');
  });

  it('kills every user process when no pid is given', async () => {
    await s.client.spawn({ sessionId: s.sessionId, command: 'sleep 101' });
    await s.client.spawn({ sessionId: s.sessionId, command: 'sleep 102' });
    const r = await s.client.processes.kill(s.sessionId);
    expect(r.pids.length).toBeGreaterThanOrEqual(2);
    expect(await s.client.processes.list(s.sessionId)).toEqual([]);
  });

  it('answers 404 for an unknown pid', async () => {
    await expect(s.client.processes.kill(s.sessionId, 999_999)).rejects.toMatchObject({ status: 404 });
  });
});

describe('files when the sandbox goes away', () => {
  it('answers an upload cut short by a dead container with 503 and Retry-After, not 500', async () => {
    const { client, account, cleanup } = await newClient();
    const upload = new AbortController();
    try {
      const session = await client.sessions.create();
      // A tar whose one file is announced as 8 MB; the body stalls after 1 MB until the container is gone.
      const header = tar.pack();
      const entry = header.entry({ name: 'big.bin', size: 8 << 20 });
      entry.write(Buffer.alloc(1 << 20, 7));
      let release!: () => void;
      const stalled = new Promise<void>((r) => (release = r));
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          for await (const chunk of header) {
            controller.enqueue(chunk as Uint8Array);
            if ((chunk as Buffer).length >= 1 << 19) break;
          }
          await stalled;
          controller.enqueue(new Uint8Array(7 << 20));
          controller.close();
        },
      });
      const answer = fetch(`${apiUrl()}/files/upload?sessionId=${session.id}&path=up`, {
        method: 'POST', body, duplex: 'half', headers: { authorization: `Bearer ${account.key}` }, signal: upload.signal,
      } as RequestInit);
      await new Promise((r) => setTimeout(r, 1_000));
      const [c] = await new Docker().listContainers({ filters: { label: [`buntime.session=${session.id}`] } });
      await new Docker().getContainer(c!.Id).kill();
      release();
      const res = await answer;
      const text = await res.clone().text();
      expect(res.status, text).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('service_unavailable');
      // The next request brings the session back.
      expect((await client.execute({ sessionId: session.id, command: 'echo back' })).stdout).toBe('back\n');
    } finally {
      upload.abort();
      await cleanup();
    }
  });
});
