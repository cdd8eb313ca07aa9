/**
 * Nothing run twice, nothing run late: fault injection against a runner in a process of its own
 * (killed with SIGKILL for real) and against transfers that outlive their deadline.
 */
import { request } from 'node:http';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { http, ownService } from './support/harness.ts';

let service: Awaited<ReturnType<typeof ownService>>;
let client: Buntime;
let key: string;

beforeAll(async () => {
  service = await ownService('faults', { REQUEST_GRACE_MS: '1500', TRANSFER_DEADLINE_MS: '3000', WARM_POOL_SIZE: '0' }, { runnerProcess: true });
  ({ client, key } = await service.account('free'));
}, 120_000);
afterAll(async () => {
  await service?.stop();
});

/** Today's usage counters of the account. */
async function today(): Promise<{ executions: number; expired: number }> {
  const report = (await client.usage()) as { days: Array<{ executions: number; expired: number }> };
  return report.days.at(-1) ?? { executions: 0, expired: 0 };
}

describe('a runner that dies', () => {
  it('never runs executions whose callers were told they failed, and counts them as expired', async () => {
    const session = await client.sessions.create();
    await client.execute({ sessionId: session.id, command: 'true' });
    const before = await today();
    await service.killRunner();
    // The node's heartbeat has not lapsed yet: the API still queues for it, then gives up.
    const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => client.execute({
      sessionId: session.id, command: `touch /workspace/ran-${i}`, timeout: 1,
    }).catch((e: unknown) => e)));
    for (const a of answers) expect(a).toMatchObject({ status: 408, code: 'execution_timeout' });
    await service.restartRunner();
    const after = await client.execute({ sessionId: session.id, command: 'ls /workspace | grep -c ^ran- || true' });
    expect(after.stdout.trim()).toBe('0');
    await expect.poll(async () => (await today()).expired, { timeout: 10_000 }).toBe(before.expired + 5);
    await client.sessions.delete(session.id);
  }, 90_000);

  it('leaves no execution of its own running after it restarts', async () => {
    const session = await client.sessions.create();
    void client.execute({ sessionId: session.id, command: 'sleep 30' }).catch(() => undefined);
    await expect.poll(async () => (await client.processes.list(session.id)).length, { timeout: 10_000 }).toBe(1);
    await service.killRunner();
    await service.restartRunner();
    // The restarted runner takes the session up at once and ends what the dead one left running.
    const ps = await client.execute({ sessionId: session.id, command: 'ps -o comm | grep -c "^sleep" || true' });
    expect(ps.stdout.trim()).toBe('0');
    await client.sessions.delete(session.id);
  }, 90_000);
});

describe('transfers past their deadline', () => {
  it('cuts an upload that outlives its deadline: 408, and nothing of it is left', async () => {
    const session = await client.sessions.create();
    const pack = tar.pack();
    const entry = pack.entry({ name: 'slow.bin', size: 9 << 20 });
    pack.on('error', () => {});
    entry.on('error', () => {});
    const url = new URL(`${service.api.url}/files/upload?sessionId=${session.id}&path=up`);
    // node:http hands over an answer that comes while the body is still being sent.
    const req = request(url, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    req.on('error', () => {});
    pack.pipe(req);
    const answered = new Promise<number>((resolve) => req.once('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); }));
    const started = Date.now();
    // 1 MiB every 500 ms: the 9 MiB would take 4.5 s; the deadline is 3 s.
    let status = 0;
    void answered.then((s) => { status = s; });
    for (let i = 0; i < 9 && status === 0; i++) {
      entry.write(Buffer.alloc(1 << 20, i));
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(await answered).toBe(408);
    expect(Date.now() - started).toBeLessThan(8_000);
    req.destroy();
    const left = await client.execute({ sessionId: session.id, command: 'ls -A up 2>/dev/null | wc -l' });
    expect(left.stdout.trim()).toBe('0');
    await client.sessions.delete(session.id);
  }, 60_000);
});

describe('resuming a finished stream', () => {
  it('ends at once with 204 from the final event\'s id (EventSource stops reconnecting)', async () => {
    const session = await client.sessions.create();
    const res = await http('POST', '/execute', { key, base: service.api.url, body: { sessionId: session.id, command: 'echo hi', stream: true } });
    const ids = [...res.text.matchAll(/^id: (\S+)$/gm)].map((m) => m[1]!);
    expect(res.text).toContain('event: result');
    const executionId = res.headers.get('x-execution-id')!;
    const started = Date.now();
    const resumed = await fetch(`${service.api.url}/executions/${executionId}/events`, {
      headers: { authorization: `Bearer ${key}`, 'last-event-id': ids.at(-1)! },
    });
    expect(resumed.status).toBe(204);
    expect(await resumed.text()).toBe('');
    expect(Date.now() - started).toBeLessThan(1_000);
    // From an earlier id it replays the rest, ending with the result.
    const partial = await http('GET', `/executions/${executionId}/events`, { key, base: service.api.url, headers: { 'last-event-id': ids[0]! } });
    expect(partial.status).toBe(200);
    expect(partial.text).toContain('event: result');
    await client.sessions.delete(session.id);
  }, 60_000);
});
