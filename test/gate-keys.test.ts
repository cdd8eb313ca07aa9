import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startApi } from '../api/main.ts';
import { startRunner } from '../runner/main.ts';
import { removeTestNode } from './support/node-cleanup.ts';
import { adminCli, http, newAccount, newKey } from './support/harness.ts';

describe('keys', () => {
  it('a key revoked through the CLI gets 401 on its next request; keys list shows it revoked, never a key', async () => {
    const acc = await newAccount();
    const other = await newKey(acc.name, 'kept');
    expect((await http('GET', '/sessions', { key: acc.key })).status).toBe(200);
    const revoke = await adminCli(['keys', 'revoke', acc.keyId]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toContain(`key ${acc.keyId} revoked at`);

    const refused = await http('GET', '/sessions', { key: acc.key });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect(refused.json.error.code).toBe('unauthorized');
    expect((await http('GET', '/sessions', { key: other.key })).status).toBe(200);

    const list = await adminCli(['keys', 'list', '--account', acc.name]);
    expect(list.stdout).toMatch(new RegExp(`${acc.keyId}\\ttest\\t.*\\trevoked \\d{4}-`));
    expect(list.stdout).toMatch(new RegExp(`${other.keyId}\\tkept\\t.*\\tactive`));
    const json = JSON.parse((await adminCli(['keys', 'list', '--account', acc.name, '--json'])).stdout);
    expect(json).toContainEqual(expect.objectContaining({ id: acc.keyId, revokedAt: expect.any(String) }));
    for (const out of [list.stdout, JSON.stringify(json)]) {
      expect(out).not.toMatch(/btk_/);
      expect(out).not.toContain(createHash('sha256').update(acc.key).digest('hex'));
    }
  });

  it('creates keys from the CLI with --json as {id, key, account, plan} and moves accounts between plans', async () => {
    const name = `cli-${randomBytes(4).toString('hex')}`;
    expect((await adminCli(['account', 'create', name, '--plan', 'free'])).code).toBe(0);
    const created = JSON.parse((await adminCli(['keys', 'create', '--account', name, '--label', 'ci', '--json'])).stdout);
    expect(created).toEqual({ id: expect.stringMatching(/^key_/), key: expect.stringMatching(/^btk_[0-9A-Za-z]{40}$/), account: name, plan: 'free' });
    expect((await adminCli(['account', 'set-plan', name, 'paid'])).stdout).toContain('now on plan paid');
    expect((await http('GET', '/sessions', { key: created.key })).headers.get('x-ratelimit-limit')).toBe('1000');
    expect((await adminCli(['account', 'list'])).stdout).toMatch(new RegExp(`^${name}\\tpaid\\t`, 'm'));
    const bad = await adminCli(['account', 'create', name, '--plan', 'gold']);
    expect(bad.code).toBe(2);
  });

  it('never writes a key, token or user code to a log line in a full create/execute/revoke cycle', async () => {
    const run = randomBytes(4).toString('hex');
    const env = { ...process.env, REDIS_URL: inject('redisUrl'), REDIS_PREFIX: `btlogs-${run}`, NODE_ID: `logs-${run}`, PORT: '0', LOG_LEVEL: 'trace' };
    const lines: string[] = [];
    const logDestination = { write: (line: string) => void lines.push(line) };
    const runner = await startRunner(env, { logDestination });
    const api = await startApi(env, { logDestination });
    const cli = (args: string[]) => adminCli(args, { REDIS_PREFIX: env.REDIS_PREFIX });
    const secrets: string[] = [];
    try {
      expect((await cli(['account', 'create', 'logs', '--plan', 'free'])).code).toBe(0);
      const { id, key } = JSON.parse((await cli(['keys', 'create', '--account', 'logs', '--json'])).stdout);
      const marker = `marker${randomBytes(8).toString('hex')}`;
      secrets.push(key, createHash('sha256').update(key).digest('hex'), marker);
      const call = (method: string, path: string, body?: unknown, auth = key) =>
        http(method, path, { base: api.url, body, headers: { authorization: `Bearer ${auth}`, 'idempotency-key': `idem-${marker}` } });

      const sessionId = (await call('POST', '/sessions/create', {})).json.sessionId;
      const exec = await call('POST', '/execute', {
        sessionId, code: `const m = "${marker}"; console.log(m.length, process.env.M === m, await Bun.stdin.text() === m)`,
        env: { M: marker }, stdin: marker, files: [{ path: `${marker}.txt`, content: marker }],
      });
      expect(exec.json.stdout).toBe('22 true true\n');
      const token = (await call('POST', `/sessions/${sessionId}/token`, {})).json.token;
      secrets.push(token, token.split('.')[2]!);
      expect((await call('GET', `/sessions/${sessionId}`, undefined, token)).status).toBe(200);
      expect((await call('GET', '/sessions', undefined, token)).status).toBe(403);
      expect((await call('GET', '/sessions', undefined, `btk_${'x'.repeat(40)}`)).status).toBe(401);
      expect((await call('DELETE', `/sessions/${sessionId}`)).status).toBe(200);
      expect((await cli(['keys', 'revoke', id])).code).toBe(0);
      expect((await call('GET', '/sessions')).status).toBe(401);
    } finally {
      await api.stop();
      await runner.stop();
      await removeTestNode(env.NODE_ID, env);
    }
    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(10);
    expect(log).toContain('"path":"/sessions/create"');
    expect(log).toContain('"path":"/execute"');
    for (const s of secrets) expect(log).not.toContain(s);
  });
});
