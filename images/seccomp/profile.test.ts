import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AF_VSOCK, CLONE_NAMESPACE_FLAGS, deriveProfile, formatProfile, gvisorVariant, REMOVED_SYSCALLS, SHIPPED,
  type SeccompProfile, type SeccompRule,
} from './derive.ts';

/**
 * The shipped profiles are what images/seccomp/derive.ts makes of Docker's default, not
 * something edited by hand: nothing removed is allowed anywhere, the argument filters are in
 * place, and deriving the shipped file again changes nothing.
 */
const runc = JSON.parse(readFileSync(SHIPPED.runc, 'utf8')) as SeccompProfile;
const gvisor = JSON.parse(readFileSync(SHIPPED.gvisor, 'utf8')) as SeccompProfile;

const allowing = (p: SeccompProfile, name: string): SeccompRule[] =>
  p.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && r.names.includes(name));

describe.each([['runc', runc], ['gvisor', gvisor]] as const)('the %s profile', (_name, profile) => {
  it('refuses by default (EPERM) and allows none of the removed syscalls, whatever the capabilities', () => {
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBeUndefined();
    for (const name of REMOVED_SYSCALLS) expect(allowing(profile, name), name).toEqual([]);
  });

  it('allows socket only for families other than AF_VSOCK', () => {
    const rules = profile.syscalls.filter((r) => r.names.includes('socket'));
    expect(rules).toEqual([expect.objectContaining({
      names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }], includes: {}, excludes: {},
    })]);
  });

  it('allows clone only without namespace flags, capabilities or not', () => {
    const rules = allowing(profile, 'clone');
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect(r.names).toEqual(['clone']);
      expect(r.args).toEqual([expect.objectContaining({ value: CLONE_NAMESPACE_FLAGS, op: 'SCMP_CMP_MASKED_EQ' })]);
      expect(r.includes.caps ?? []).toEqual([]);
      expect(r.excludes.caps ?? []).toEqual([]);
    }
  });

  it('keeps what programs need', () => {
    const main = profile.syscalls[0]!;
    for (const name of ['read', 'write', 'openat', 'mmap', 'execve', 'futex', 'epoll_pwait', 'socketpair', 'wait4', 'fork']) {
      expect(main.names, name).toContain(name);
    }
  });
});

describe('derivation', () => {
  it('is a fixpoint on the shipped runc profile, and gVisor\'s is its variant', () => {
    expect(formatProfile(deriveProfile(runc))).toBe(readFileSync(SHIPPED.runc, 'utf8'));
    expect(formatProfile(gvisorVariant(runc))).toBe(readFileSync(SHIPPED.gvisor, 'utf8'));
  });

  it('refuses clone3 with ENOSYS under runc (glibc then falls back to clone) and leaves it to gVisor there', () => {
    const enosys = runc.syscalls.filter((r) => r.names.includes('clone3') && !r.includes.arches);
    expect(enosys).toEqual([expect.objectContaining({ action: 'SCMP_ACT_ERRNO', errnoRet: 38, includes: {} })]);
    expect(enosys[0]!.excludes.caps).toBeUndefined();
    expect(allowing(runc, 'clone3')).toEqual([]);
    expect(allowing(gvisor, 'clone3')).toEqual([expect.objectContaining({ names: ['clone3'], args: [], includes: {} })]);
  });

  it('removes io_uring and vsock from Docker\'s default rules', () => {
    const docker: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      archMap: [],
      syscalls: [
        { names: ['read', 'io_uring_setup', 'socket', 'clone3'], action: 'SCMP_ACT_ALLOW', args: [], comment: '', includes: {}, excludes: {} },
        { names: ['bpf', 'clone'], action: 'SCMP_ACT_ALLOW', args: [], comment: '', includes: { caps: ['CAP_SYS_ADMIN'] }, excludes: {} },
      ],
    };
    const derived = deriveProfile(docker);
    expect(derived.syscalls.map((r) => r.names)).toEqual([['read'], ['socket']]);
  });
});
