import { describe, expect, it } from 'vitest';
import { SessionLease, type SessionApi } from './session-lease.ts';

/** An in-memory session API that records calls; `failCreates` makes the next creates reject. */
function fakeApi(opts: { failCreates?: number; createDelayMs?: number } = {}) {
  const calls: string[] = [];
  let n = 0;
  let failures = opts.failCreates ?? 0;
  const api: SessionApi = {
    async create(params) {
      calls.push(`create ttl=${params.ttl}`);
      if (opts.createDelayMs) await new Promise((r) => setTimeout(r, opts.createDelayMs));
      if (failures-- > 0) throw new Error('no capacity');
      const id = `ses_${++n}`;
      return { sessionId: id, previewUrl: `http://127.0.0.1/preview/${id}/`, expiresAt: 'later' };
    },
    async delete(id) {
      calls.push(`delete ${id}`);
      return {};
    },
  };
  return { api, calls };
}

describe('SessionLease', () => {
  it('creates nothing until used, then one session for concurrent first uses', async () => {
    const { api, calls } = fakeApi({ createDelayMs: 10 });
    const lease = new SessionLease(api, { ttlSec: 900, keep: false });
    expect(calls).toEqual([]);
    const ids = await Promise.all([lease.get(), lease.get(), lease.get()]);
    expect(new Set(ids.map((s) => s.sessionId))).toEqual(new Set(['ses_1']));
    expect(calls).toEqual(['create ttl=900']);
  });

  it('deletes its session at release, once, and refuses use afterwards', async () => {
    const { api, calls } = fakeApi();
    const lease = new SessionLease(api, { ttlSec: 60, keep: false });
    await lease.get();
    expect((await lease.release())?.sessionId).toBe('ses_1');
    expect(await lease.release()).toBeUndefined();
    await expect(lease.get()).rejects.toThrow(/closed/);
    expect(calls).toEqual(['create ttl=60', 'delete ses_1']);
  });

  it('keeps the session at release when asked, and deletes nothing when none was made', async () => {
    const kept = fakeApi();
    const lease = new SessionLease(kept.api, { ttlSec: 60, keep: true });
    await lease.get();
    await lease.release();
    expect(kept.calls).toEqual(['create ttl=60']);
    const unused = fakeApi();
    await new SessionLease(unused.api, { ttlSec: 60, keep: false }).release();
    expect(unused.calls).toEqual([]);
  });

  it('waits for a create under way at release, so nothing is left behind', async () => {
    const { api, calls } = fakeApi({ createDelayMs: 30 });
    const lease = new SessionLease(api, { ttlSec: 60, keep: false });
    const using = lease.get();
    await lease.release();
    await using;
    expect(calls).toEqual(['create ttl=60', 'delete ses_1']);
  });

  it('retries a failed create on the next use, and replaces a forgotten session', async () => {
    const { api } = fakeApi({ failCreates: 1 });
    const lease = new SessionLease(api, { ttlSec: 60, keep: false });
    await expect(lease.get()).rejects.toThrow(/no capacity/);
    expect((await lease.get()).sessionId).toBe('ses_1');
    lease.forget('ses_other');
    expect(lease.current?.sessionId).toBe('ses_1');
    lease.forget('ses_1');
    expect(lease.current).toBeUndefined();
    expect((await lease.get()).sessionId).toBe('ses_2');
  });
});
