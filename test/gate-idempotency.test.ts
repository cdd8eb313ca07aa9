import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deleteSessionsOf, http, newAccount, newClient } from './support/harness.ts';

const create = (key: string, idem: string, body: unknown = {}) =>
  http('POST', '/sessions/create', { key, body, headers: { 'idempotency-key': idem } });

describe('Idempotency-Key', () => {
  it('replays a create with the same key and body, whatever the key order, and makes one session', async () => {
    const { client, account, cleanup } = await newClient();
    try {
      const idem = randomUUID();
      const first = await client.sessions.create({ ttl: 600, metadata: { a: 1, b: 2 } }, { idempotencyKey: idem });
      const again = await client.sessions.create({ ttl: 600, metadata: { a: 1, b: 2 } }, { idempotencyKey: idem });
      expect(again.sessionId).toBe(first.sessionId);
      const reordered = await create(account.key, idem, { metadata: { b: 2, a: 1 }, ttl: 600 });
      expect(reordered.status).toBe(200);
      expect(reordered.headers.get('idempotent-replayed')).toBe('true');
      const { id: _, ...fields } = JSON.parse(JSON.stringify(first));
      expect(reordered.json).toEqual(fields);
      expect((await client.sessions.list()).total).toBe(1);
    } finally {
      await cleanup();
    }
  });

  it('answers 409 idempotency_conflict when the key comes back with another body', async () => {
    const { key } = await newAccount();
    try {
      const idem = randomUUID();
      expect((await create(key, idem, { ttl: 600 })).status).toBe(200);
      const changed = await create(key, idem, { ttl: 601 });
      expect(changed.status).toBe(409);
      expect(changed.json.error).toMatchObject({ code: 'idempotency_conflict', details: { field: 'Idempotency-Key' } });
      expect((await http('GET', '/sessions', { key })).json.total).toBe(1);
    } finally {
      await deleteSessionsOf(key);
    }
  });

  it('makes one session out of 10 concurrent duplicates, and all of them get it', async () => {
    const { key } = await newAccount();
    try {
      const idem = randomUUID();
      const all = await Promise.all(Array.from({ length: 10 }, () => create(key, idem, { ttl: 600 })));
      expect(all.map((r) => r.status)).toEqual(Array(10).fill(200));
      expect(new Set(all.map((r) => r.json.sessionId)).size).toBe(1);
      expect(all.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
      expect((await http('GET', '/sessions', { key })).json.total).toBe(1);
    } finally {
      await deleteSessionsOf(key);
    }
  });

  it('scopes keys per account and per route', async () => {
    const a = await newAccount();
    const b = await newAccount();
    try {
      const idem = randomUUID();
      const sa = await create(a.key, idem);
      const sb = await create(b.key, idem);
      expect(sb.status).toBe(200);
      expect(sb.json.sessionId).not.toBe(sa.json.sessionId);
      const exec = await http('POST', '/execute', { key: a.key, body: { sessionId: sa.json.sessionId, command: 'true' }, headers: { 'idempotency-key': idem } });
      expect(exec.status).toBe(200);
    } finally {
      await Promise.all([deleteSessionsOf(a.key), deleteSessionsOf(b.key)]);
    }
  });

  it('replays an execute instead of running it twice', async () => {
    const { client, cleanup } = await newClient();
    try {
      const s = await client.sessions.create();
      const idem = randomUUID();
      const req = { sessionId: s.id, command: 'echo run >> runs.txt; wc -l < runs.txt' };
      const first = await client.execute(req, { idempotencyKey: idem });
      const again = await client.execute(req, { idempotencyKey: idem });
      expect(again).toEqual(first);
      expect(first.stdout.trim()).toBe('1');
      expect((await client.execute({ sessionId: s.id, command: 'wc -l < runs.txt' })).stdout.trim()).toBe('1');
    } finally {
      await cleanup();
    }
  });

  it('keeps only successes: a create refused at the cap can be retried with the same key', async () => {
    const { key } = await newAccount();
    try {
      const made = await Promise.all(Array.from({ length: 10 }, () => create(key, randomUUID())));
      const idem = randomUUID();
      expect((await create(key, idem)).json.error.code).toBe('session_limit_exceeded');
      await http('DELETE', `/sessions/${made[0]!.json.sessionId}`, { key });
      const retried = await create(key, idem);
      expect(retried.status).toBe(200);
      expect(retried.headers.get('idempotent-replayed')).toBeNull();
    } finally {
      await deleteSessionsOf(key);
    }
  });

  it('refuses a malformed key with 400 naming the header', async () => {
    const { key } = await newAccount();
    const r = await create(key, 'x'.repeat(256));
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'invalid_request', details: { field: 'Idempotency-Key' } });
  });
});
