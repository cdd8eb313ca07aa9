import { describe, expect, it } from 'vitest';
import { durabilityProblems } from './redis-durability.ts';

const info = (fields: Record<string, string>) =>
  ['# Persistence', ...Object.entries(fields).map(([k, v]) => `${k}:${v}`), ''].join('\r\n');

describe('durabilityProblems', () => {
  it('finds nothing wrong with an append-only file and noeviction', () => {
    expect(durabilityProblems(info({ aof_enabled: '1', aof_last_write_status: 'ok', maxmemory_policy: 'noeviction' }), 'everysec')).toEqual([]);
  });

  it('names a missing append-only file and an evicting policy', () => {
    const problems = durabilityProblems(info({ aof_enabled: '0', maxmemory_policy: 'allkeys-lru' }));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/append-only file/);
    expect(problems[1]).toMatch(/allkeys-lru evicts/);
  });

  it('names a lax fsync policy and a failing append-only file', () => {
    const problems = durabilityProblems(info({ aof_enabled: '1', aof_last_write_status: 'err', maxmemory_policy: 'noeviction' }), 'no');
    expect(problems).toEqual([expect.stringMatching(/appendfsync no/), expect.stringMatching(/last write/)]);
  });

  it('does not guess when INFO hides the policy', () => {
    expect(durabilityProblems(info({ aof_enabled: '1' }))).toEqual([]);
  });
});
