import { describe, expect, it } from 'vitest';
import { locateCgroup } from './container-cgroup.ts';
import { parseProcStatus } from './host-kill.ts';

const HYBRID_MOUNTS = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;

const V2_MOUNTS = `25 21 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate`;

describe('locateCgroup', () => {
  it('takes the v1 freezer of a Docker container on a hybrid host', () => {
    const proc = '12:pids:/docker/abc\n6:freezer:/docker/abc\n0::/\n';
    expect(locateCgroup(proc, HYBRID_MOUNTS)).toEqual({ version: 1, dir: '/sys/fs/cgroup/freezer/docker/abc' });
  });

  it('takes the unified cgroup on a v2 host', () => {
    const proc = '0::/system.slice/docker-abc.scope\n';
    expect(locateCgroup(proc, V2_MOUNTS)).toEqual({ version: 2, dir: '/sys/fs/cgroup/system.slice/docker-abc.scope' });
  });

  it('maps paths through a mount of a subtree', () => {
    const mounts = '40 31 0:37 /docker /mnt/freezer rw - cgroup cgroup rw,freezer';
    expect(locateCgroup('6:freezer:/docker/abc\n', mounts)).toEqual({ version: 1, dir: '/mnt/freezer/abc' });
  });

  it('finds nothing for a process in the root cgroup or without a mounted hierarchy', () => {
    expect(locateCgroup('0::/\n', V2_MOUNTS)).toBeUndefined();
    expect(locateCgroup('6:freezer:/docker/abc\n', V2_MOUNTS)).toBeUndefined();
  });
});

describe('parseProcStatus', () => {
  it('reads the real uid and gid and the pid inside the container', () => {
    const text = 'Name:\tsh\nState:\tR (running)\nPid:\t4242\nUid:\t200001\t200001\t200001\t200001\nGid:\t2000000007\t2000000007\t2000000007\t2000000007\nNSpid:\t4242\t17\n';
    expect(parseProcStatus(text)).toEqual({ uid: 200_001, gid: 2_000_000_007, nspid: 17, zombie: false });
  });

  it('marks zombies and refuses text without ids', () => {
    expect(parseProcStatus('State:\tZ (zombie)\nPid:\t5\nUid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\n')).toMatchObject({ nspid: 5, zombie: true });
    expect(parseProcStatus('')).toBeUndefined();
  });
});
