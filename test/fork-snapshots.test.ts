import { describe, expect, it } from 'vitest';
import { http, newClient } from './support/harness.ts';

/**
 * Fork and named snapshots through the API: copies of a workspace at an instant, owned by the
 * new session's uid, independent of their source, counted against the plan.
 */
describe('fork', () => {
  it('copies the files into a new session of its own uid, independent of the source, counted against the cap', async () => {
    const { client, cleanup } = await newClient('free');
    try {
      const src = await client.sessions.create({ metadata: { role: 'source' } });
      await client.files.write(src.id, 'api.txt', 'written by the API');
      await src.execute({ command: 'mkdir -p d/e && echo one > d/e/f && ln -s d/e/f link && chmod 640 d/e/f && id -u > src-uid' });
      const srcUid = (await src.execute({ command: 'id -u' })).stdout.trim();

      const fork = await client.sessions.fork(src.id, { metadata: { role: 'fork' } });
      expect(fork.id).not.toBe(src.id);
      expect(fork.metadata).toEqual({ role: 'fork' });
      expect(fork.resourceLimits).toEqual(src.resourceLimits);
      const seen = await fork.execute({
        command: 'id -u; cat api.txt; echo; cat d/e/f; readlink link; stat -c "%a" d/e/f; stat -c %u . api.txt d d/e d/e/f src-uid; stat -c %u -L link; find . ! -user $(id -u) | wc -l',
      });
      const lines = seen.stdout.trim().split('\n');
      const forkUid = lines[0]!;
      expect(forkUid).not.toBe(srcUid);
      expect(lines.slice(1, 5)).toEqual(['written by the API', 'one', 'd/e/f', '640']);
      expect(lines.slice(5, 12)).toEqual(Array(7).fill(forkUid));
      expect(lines[12]).toBe('0');

      // Each may change its copy; neither sees the other's writes.
      await fork.execute({ command: 'echo two > d/e/f && echo mine > only-fork' });
      await src.execute({ command: 'echo three >> d/e/f && echo mine > only-src' });
      expect((await src.execute({ command: 'cat d/e/f; ls only-*' })).stdout).toBe('one\nthree\nonly-src\n');
      expect((await fork.execute({ command: 'cat d/e/f; ls only-*' })).stdout).toBe('two\nonly-fork\n');
      expect((await client.files.readText(fork.id, 'api.txt'))).toBe('written by the API');

      // The free plan's cap is 10: source + fork + 8 more make 10, and the next fork is refused.
      await Promise.all(Array.from({ length: 8 }, () => client.sessions.create()));
      const over = await client.sessions.fork(src.id).then(() => undefined, (e: unknown) => e);
      expect(over).toMatchObject({ status: 429, code: 'session_limit_exceeded' });
      await client.sessions.delete(fork.id);
      const again = await client.sessions.fork(src.id);
      expect((await again.execute({ command: 'cat d/e/f' })).stdout).toBe('one\nthree\n');
    } finally {
      await cleanup();
    }
  }, 180_000);

  it('answers 404 for another account\'s session', async () => {
    const a = await newClient('free');
    const b = await newClient('free');
    try {
      const s = await a.client.sessions.create();
      await expect(b.client.sessions.fork(s.id)).rejects.toMatchObject({ status: 404, code: 'session_not_found' });
      expect((await b.client.sessions.list()).total).toBe(0);
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
  }, 60_000);
});

describe('named snapshots', () => {
  it('start sessions with the same files, survive their session, and belong to their account', async () => {
    const { client, account, cleanup } = await newClient('paid');
    const other = await newClient('paid');
    try {
      const src = await client.sessions.create({ resourceLimits: { disk: 128 } });
      await src.execute({ command: 'mkdir sub && head -c 5000000 /dev/urandom > sub/blob && sha256sum sub/blob > sum && echo v1 > version' });
      const snap = await src.snapshot({ name: 'v1' });
      expect(snap).toMatchObject({ sessionId: src.id, name: 'v1' });
      expect(snap.snapshotId).toMatch(/^snap_[A-Za-z0-9]{20}$/);
      expect(snap.sizeBytes).toBeGreaterThan(5_000_000);
      expect(Number.isNaN(Date.parse(snap.createdAt))).toBe(false);
      expect((await client.snapshots.list()).snapshots.map((x) => x.snapshotId)).toEqual([snap.snapshotId]);
      expect(await client.snapshots.get(snap.snapshotId)).toEqual(snap);

      // Later changes to the source are not in the snapshot.
      await src.execute({ command: 'echo v2 > version' });
      const fromSnap = await client.sessions.create({ snapshotId: snap.snapshotId });
      expect(fromSnap.resourceLimits.disk).toBe(128);
      const r = await fromSnap.execute({ command: 'sha256sum -c sum && cat version && stat -c %u sub/blob && id -u' });
      const [ok, version, owner, uid] = r.stdout.trim().split('\n');
      expect([ok, version]).toEqual(['sub/blob: OK', 'v1']);
      expect(owner).toBe(uid);

      // The snapshot outlives its session.
      await client.sessions.delete(src.id);
      const later = await client.sessions.create({ snapshotId: snap.snapshotId });
      expect((await later.execute({ command: 'cat version' })).stdout).toBe('v1\n');

      // Another account: not found, whatever it tries.
      await expect(other.client.snapshots.get(snap.snapshotId)).rejects.toMatchObject({ status: 404, code: 'not_found' });
      await expect(other.client.sessions.create({ snapshotId: snap.snapshotId })).rejects.toMatchObject({ status: 404, code: 'not_found' });
      await expect(other.client.snapshots.delete(snap.snapshotId)).rejects.toMatchObject({ status: 404, code: 'not_found' });
      expect((await other.client.snapshots.list()).total).toBe(0);
      // Its disk is the snapshot's.
      const res = await http('POST', '/sessions/create', { key: account.key, body: { snapshotId: snap.snapshotId, resourceLimits: { disk: 256 } } });
      expect(res.status).toBe(400);

      expect(await client.snapshots.delete(snap.snapshotId)).toEqual({ deleted: true, snapshotId: snap.snapshotId });
      expect((await client.snapshots.list()).total).toBe(0);
      await expect(client.sessions.create({ snapshotId: snap.snapshotId })).rejects.toMatchObject({ status: 404 });
    } finally {
      await cleanup();
      await other.cleanup();
    }
  }, 180_000);

  it('refuses a snapshot past the plan\'s count with 429 snapshot_limit_exceeded', async () => {
    const { client, cleanup } = await newClient('free');
    try {
      const s = await client.sessions.create();
      await s.execute({ command: 'echo x > f' });
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await s.snapshot());
      await expect(s.snapshot()).rejects.toMatchObject({ status: 429, code: 'snapshot_limit_exceeded', details: { limit: 5 } });
      await client.snapshots.delete(made[0]!.snapshotId);
      made.push(await s.snapshot());
      for (const snap of made.slice(1)) await client.snapshots.delete(snap.snapshotId);
    } finally {
      await cleanup();
    }
  }, 180_000);
});
