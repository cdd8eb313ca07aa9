import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { http, newClient } from './support/harness.ts';

let a: Buntime;
let b: Buntime;
const cleanups: Array<() => Promise<void>> = [];
let sa: string;
let sb: string;
let otherKey: string;

beforeAll(async () => {
  const ca = await newClient();
  const cb = await newClient();
  a = ca.client;
  b = cb.client;
  otherKey = cb.account.key;
  cleanups.push(ca.cleanup, cb.cleanup);
  sa = (await a.sessions.create()).id;
  sb = (await a.sessions.create()).id;
});
afterAll(async () => { await Promise.all(cleanups.map((c) => c())); });

describe('session isolation', () => {
  it('never shows one session the files, /tmp or processes of another', async () => {
    await a.execute({ sessionId: sa, command: 'echo secret-a > /workspace/a.txt; echo tmp-a > /tmp/a.txt' });
    await a.execute({ sessionId: sa, command: 'sleep 30', background: true });
    const r = await a.execute({
      sessionId: sb,
      command: 'ls /workspace /tmp; cat /workspace/a.txt /tmp/a.txt 2>&1; ps -o args | grep -cx "sleep 30"; true',
    });
    expect(r.stdout).not.toContain('secret-a');
    expect(r.stdout).not.toContain('tmp-a');
    expect(r.stdout).toContain('No such file');
    // The other session's sleep is invisible here, though its own session sees it.
    expect(r.stdout.trim().split('\n').pop()).toBe('0');
    const own = await a.execute({ sessionId: sa, command: 'ps -o args | grep -cx "sleep 30"' });
    expect(own.stdout).toBe('1\n');
  });

  it('answers 404 session_not_found for another account\'s session', async () => {
    const res = await http('POST', '/execute', { key: otherKey, body: { sessionId: sa, command: 'true' } });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('session_not_found');
    const get = await http('GET', `/sessions/${sa}`, { key: otherKey });
    expect(get.status).toBe(404);
    expect(get.json.error.code).toBe('session_not_found');
    const del = await http('DELETE', `/sessions/${sa}`, { key: otherKey });
    expect(del.status).toBe(404);
    // The owner's session is untouched.
    expect((await a.execute({ sessionId: sa, command: 'cat a.txt' })).stdout).toBe('secret-a\n');
  });

  it('answers 404 for an unknown session id', async () => {
    await expect(b.execute({ sessionId: 'ses_doesnotexist000000', command: 'true' }))
      .rejects.toMatchObject({ status: 404, code: 'session_not_found' });
  });
});
