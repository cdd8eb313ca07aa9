/**
 * Derives the sandbox's seccomp profile (`images/seccomp/profile.json`) from Docker's default
 * profile, so the shipped file is reproducible and nobody edits it by hand.
 *
 * Docker's default minus: io_uring (a large kernel attack surface Bun only uses when offered),
 * `AF_VSOCK` sockets (a way out to the host on VMs), `userfaultfd`, `bpf`, `perf_event_open`, the
 * keyrings, namespaces (`unshare`, `setns`, namespace flags of `clone`, `clone3` altogether),
 * the mount family, kexec and kernel modules. Docker already gates most of these on capabilities
 * the sandbox never gets; removing them outright keeps them shut even if someone adds a
 * capability later. `socketcall` goes too: on 32-bit x86 it hides the socket family from the
 * filter, and the image has no 32-bit userland that needs it.
 *
 * gVisor (`runsc --oci-seccomp`) gets a variant, `profile-gvisor.json`: the gVisor Debian 12
 * ships ignores `errnoRet`, so Docker's "clone3 answers ENOSYS" rule answers EPERM there, and
 * glibc (which falls back from clone3 to clone only on ENOSYS) cannot start a thread: every Bun
 * aborts. The variant lets clone3 through to gVisor, which does not implement it and answers
 * ENOSYS itself; clone with namespace flags stays filtered, and namespaces under gVisor are the
 * sentry's own in any case.
 *
 * Usage (from the repo root; Docker's JSON comes with Debian's golang-github-docker-docker-dev):
 *   node --import tsx images/seccomp/derive.ts [docker-default.json] [--check]
 * `--check` compares the derivation with the shipped files instead of writing them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One rule of a Docker seccomp profile (the fields Docker's JSON format has). */
export interface SeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args: SeccompArg[] | null;
  comment: string;
  includes: SeccompFilter;
  excludes: SeccompFilter;
}

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface SeccompFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

/** A Docker seccomp profile (`docker run --security-opt seccomp=...`). */
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap: Array<{ architecture: string; subArchitectures: string[] }>;
  syscalls: SeccompRule[];
}

/** Syscalls no rule of the derived profile allows, whatever the container's capabilities. */
export const REMOVED_SYSCALLS = [
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  'userfaultfd', 'bpf', 'perf_event_open',
  'keyctl', 'add_key', 'request_key',
  'unshare', 'setns',
  'mount', 'umount', 'umount2', 'pivot_root', 'move_mount', 'fsopen', 'fsmount', 'fspick', 'fsconfig',
  'open_tree', 'mount_setattr',
  'kexec_load', 'kexec_file_load',
  'init_module', 'finit_module', 'delete_module',
  'socketcall',
] as const;

/** `AF_VSOCK`: the one socket family the derived profile refuses. */
export const AF_VSOCK = 40;

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: `clone` is allowed only with none of them. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

const ALLOW = 'SCMP_ACT_ALLOW';
/** Allowed only through their argument-filtered rules (or, clone3, never). */
const GATED = new Set(['clone', 'clone3', 'socket']);
const REMOVED = new Set<string>(REMOVED_SYSCALLS);

/** The derived profile: a pure function of Docker's, so the same input gives the same bytes. */
export function deriveProfile(docker: SeccompProfile): SeccompProfile {
  const rules = docker.syscalls.flatMap((rule) => {
    const derived = deriveRule(rule);
    return derived ? [derived] : [];
  });
  return { ...docker, syscalls: [...rules.filter((r) => !isSocketRule(r)), socketRule()] };
}

/** One rule without what the profile removes; undefined when nothing of it is left. */
function deriveRule(rule: SeccompRule): SeccompRule | undefined {
  const names = rule.names.filter((n) => !REMOVED.has(n) && !(isUnconditionalAllow(rule) && GATED.has(n)));
  if (names.length === 0) return undefined;
  // The clone flag filter and clone3's ENOSYS apply whatever the capabilities: Docker lifts
  // them for CAP_SYS_ADMIN, which would make them one capability away from open.
  const gatedOnly = names.every((n) => n === 'clone' || n === 'clone3');
  const excludes = gatedOnly ? withoutCaps(rule.excludes) : rule.excludes;
  return { ...rule, names, excludes };
}

function isUnconditionalAllow(rule: SeccompRule): boolean {
  return rule.action === ALLOW && (rule.args ?? []).length === 0;
}

function withoutCaps(filter: SeccompFilter): SeccompFilter {
  const { caps: _caps, ...rest } = filter;
  return rest;
}

function isSocketRule(rule: SeccompRule): boolean {
  return rule.names.length === 1 && rule.names[0] === 'socket';
}

/** `socket` of any family but AF_VSOCK (which falls to the default action, EPERM). */
function socketRule(): SeccompRule {
  return {
    names: ['socket'],
    action: ALLOW,
    args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }],
    comment: 'any socket family but AF_VSOCK',
    includes: {},
    excludes: {},
  };
}

/**
 * The gVisor variant of a derived profile: clone3 allowed (gVisor answers ENOSYS itself; see the
 * top of this file) instead of refused with an errno gVisor would turn into EPERM.
 */
export function gvisorVariant(profile: SeccompProfile): SeccompProfile {
  const syscalls = profile.syscalls.flatMap((rule): SeccompRule[] => {
    if (!rule.names.includes('clone3') || rule.action === ALLOW) return [rule];
    const names = rule.names.filter((n) => n !== 'clone3');
    const rest = names.length > 0 ? [{ ...rule, names }] : [];
    // Only the rule for gVisor's architectures (not MIPS) turns into an allow.
    if (rule.includes.arches?.length) return rest;
    const { errnoRet: _errno, ...base } = rule;
    return [...rest, { ...base, names: ['clone3'], action: ALLOW, comment: 'gVisor answers ENOSYS itself' }];
  });
  return { ...profile, syscalls };
}

/** The profile as shipped: two-space JSON with a final newline. */
export function formatProfile(profile: SeccompProfile): string {
  return `${JSON.stringify(profile, null, 2)}\n`;
}

const DOCKER_DEFAULT = '/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json';
/** The shipped files: runc's profile and gVisor's variant. */
export const SHIPPED = {
  runc: fileURLToPath(new URL('./profile.json', import.meta.url)),
  gvisor: fileURLToPath(new URL('./profile-gvisor.json', import.meta.url)),
};

function main(argv: string[]): void {
  const source = argv.find((a) => !a.startsWith('--')) ?? DOCKER_DEFAULT;
  const runc = deriveProfile(JSON.parse(readFileSync(source, 'utf8')) as SeccompProfile);
  const files: Array<[string, string]> = [[SHIPPED.runc, formatProfile(runc)], [SHIPPED.gvisor, formatProfile(gvisorVariant(runc))]];
  const check = argv.includes('--check');
  for (const [path, text] of files) {
    if (!check) {
      writeFileSync(path, text);
      console.log(`wrote ${path} from ${source}`);
    } else if (readFileSync(path, 'utf8') !== text) {
      console.error(`${path} differs from the derivation of ${source}: run images/seccomp/derive.ts`);
      process.exitCode = 1;
    }
  }
  if (check && !process.exitCode) console.log(`the shipped profiles are the derivation of ${source}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));
