import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { StoredBytes } from '../core/stored-bytes.ts';
import { createRedis } from '../core/redis.ts';
import { http, newClient, ownService, testRedis } from './support/harness.ts';

/**
 * What one account can keep in Redis is bounded: idempotent replays keep at most
 * IDEMPOTENCY_MAX_BYTES of a response (every result field, output cut and flagged), streamed
 * output is coalesced before it is stored, and stream storage has a per-account quota.
 */
const { redis, keys } = testRedis();
const stored = new StoredBytes(redis, keys);
afterAll(() => redis.disconnect());

const RESULT_FIELDS = ['executionId', 'stdout', 'stderr', 'exitCode', 'signal', 'executionTime', 'memoryUsed', 'cpuTime',
  'timedOut', 'status', 'stdoutTruncated', 'stderrTruncated', 'filesWritten'];

async function inParallel<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

describe('bounded Redis', () => {
  it('keeps 200 idempotent replays of 2 MB of output each in under 30 MB, every field and flag there', async () => {
    const { client, account, cleanup } = await newClient('paid');
    try {
      const sessions = await Promise.all([0, 1, 2, 3].map(async () => (await client.sessions.create()).id));
      const before = await stored.of(account.name);
      const code = 'process.stdout.write(Buffer.alloc(2 * 1024 * 1024, 120)); console.error("done")';
      const runs = await inParallel(200, 16, async (i) => {
        const idem = randomUUID();
        const body = { sessionId: sessions[i % 4], code };
        const first = await http('POST', '/execute', { key: account.key, body, headers: { 'idempotency-key': idem } });
        expect(first.status).toBe(200);
        // The first answer is whole: the retained 1 MiB.
        expect(first.json.stdout).toHaveLength(1024 * 1024);
        return { idem, body };
      });
      const after = await stored.of(account.name);
      const grown = after.idempotency - before.idempotency;
      expect(grown).toBeGreaterThan(200 * 60_000);
      expect(after.total - before.total).toBeLessThan(30 * 1024 * 1024);
      await inParallel(200, 16, async (i) => {
        const again = await http('POST', '/execute', { key: account.key, body: runs[i]!.body, headers: { 'idempotency-key': runs[i]!.idem } });
        expect(again.status).toBe(200);
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        for (const f of RESULT_FIELDS) expect(again.json).toHaveProperty(f);
        expect(again.json).toMatchObject({ status: 'ok', exitCode: 0, stdoutTruncated: true, stderrTruncated: false, replayTruncated: true, stderr: 'done\n' });
        expect(again.text.length).toBeLessThanOrEqual(64 * 1024);
        expect(again.json.stdout.length).toBeGreaterThan(60_000);
      });
      // Replays store nothing more.
      expect((await stored.of(account.name)).idempotency).toBe(after.idempotency);
    } finally {
      await cleanup();
    }
  }, 180_000);

  it('stores a stream of 200,000 one-byte writes in at most bytes/4 KB + T/20 ms + 10 entries', async () => {
    const { client, account, cleanup } = await newClient('paid');
    try {
      const sessionId = (await client.sessions.create({ resourceLimits: { cpu: 1 } })).id;
      // One write(2) per byte, spread over a couple of seconds.
      const code = `import { writeSync } from 'node:fs';
        for (let i = 0; i < 200000; i++) { writeSync(1, 'x'); if (i % 100 === 99) Bun.sleepSync(1); }`;
      let executionId = '';
      let out = '';
      let result: any;
      for await (const e of client.executeStream({ sessionId, code, timeout: 60 })) {
        if (e.type === 'result') result = e.result;
        else out += e.data;
      }
      executionId = result.executionId;
      expect(result.status).toBe('ok');
      expect(out).toBe('x'.repeat(200_000));
      const entries = await redis.xlen(keys.execEvents(executionId));
      const bound = 200_000 / 4096 + result.executionTime / 20 + 10;
      expect(result.executionTime).toBeGreaterThan(1_000);
      expect(entries).toBeLessThanOrEqual(bound);
      expect((await stored.of(account.name)).streams).toBeGreaterThan(200_000);
    } finally {
      await cleanup();
    }
  }, 120_000);
});

describe('stream quota', () => {
  it('stops storing an account\'s output past its quota; the result is still stored and says so', async () => {
    const quota = 256 * 1024;
    const service = await ownService('quota', { STREAM_QUOTA_BYTES: String(quota), WARM_POOL_SIZE: '1' });
    const ownRedis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6399');
    try {
      const client = await service.client('paid');
      const sessionId = (await client.sessions.create()).id;
      const code = 'for (let i = 0; i < 100; i++) { process.stdout.write("y".repeat(8192)); await Bun.sleep(5); }';
      const streams: Array<{ out: number; result: any }> = [];
      for (let run = 0; run < 2; run++) {
        let out = 0;
        let result: any;
        for await (const e of client.executeStream({ sessionId, code })) {
          if (e.type === 'result') result = e.result;
          else out += e.data.length;
        }
        streams.push({ out, result });
      }
      // 800 KB each: the first fills the quota part way through, the second stores no output.
      expect(streams[0]!.out).toBeLessThan(quota);
      expect(streams[0]!.out).toBeGreaterThan(quota / 2);
      expect(streams[1]!.out).toBe(0);
      for (const s of streams) {
        expect(s.result).toMatchObject({ status: 'ok', streamTruncated: true, replayTruncated: true, stdoutTruncated: true });
      }
      const account = (await ownRedis.get(service.keys.execOwner(streams[0]!.result.executionId)))!;
      const bytes = await new StoredBytes(ownRedis, service.keys).of(account);
      expect(bytes.streams).toBeLessThan(quota + 2 * 70 * 1024);
    } finally {
      ownRedis.disconnect();
      await service.stop();
    }
  }, 120_000);
});
