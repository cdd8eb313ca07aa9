import type { ContainerCreateOptions } from 'dockerode';
import { DATA_SOCKET, DATA_SOCKET_DIR, type AgentEnvironment } from '../core/agent-protocol.ts';
import type { ResourceLimits } from '../core/schemas.ts';

/** Capabilities the agent keeps; user programs run as an unprivileged uid and have none. */
export const AGENT_CAPS = ['SETUID', 'SETGID', 'KILL', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER'] as const;

export interface SandboxSpec {
  sessionId: string;
  nodeId: string;
  image: string;
  /** OCI runtime name, `runc` or `runsc`. */
  runtime: string;
  /** uid user programs run as; owns /workspace. */
  uid: number;
  limits: ResourceLimits;
  pidsLimit: number;
  /** Size of the private /tmp, MB. */
  tmpMb: number;
  /** Host directory of the session's data socket (root-only), bind-mounted for the agent. */
  dataDir: string;
  /**
   * Host mountpoint of the session's workspace filesystem (a loop-mounted ext4 image, `nosuid,nodev`,
   * its size the session's disk quota), bind-mounted at /workspace.
   */
  workspaceDir: string;
  /** The seccomp profile, Docker's JSON format (see runner/seccomp-profile.ts). */
  seccompProfile: string;
  /** `NPM_REGISTRY_URL`: user programs' default package registry, when the operator set one. */
  npmRegistry?: string;
}

const MB = 1024 * 1024;
/** CFS period of session containers, µs. */
const CPU_PERIOD_US = 1_000_000;
/** Memory the agent itself may take in the container on top of the session's `memory`, MB. */
export const AGENT_MEMORY_MB = 32;
/**
 * Bun's own code pages as a program's resident set counts them, MB (≈ 20–25 measured): shared
 * by every session from the image's page cache and charged to none, so a program's peak RSS
 * (`memoryUsed`) can pass what its container is charged by that much.
 */
export const SHARED_CODE_MB = 32;

/** The memory limit of a session's container, MB: its `memory`, its /tmp (a tmpfs) and the agent's share. */
export function containerMemoryMb(memoryMb: number, tmpMb: number): number {
  return memoryMb + tmpMb + AGENT_MEMORY_MB;
}

/**
 * The fixed reserve on top of a session's `memory`, MB: a program's `memoryUsed` never passes
 * `memory` + this (the /tmp tmpfs, the agent's share and Bun's shared code pages). Files in
 * /workspace are on disk: their page cache is reclaimable and counts towards none of it.
 */
export function memoryReserveMb(tmpMb: number): number {
  return tmpMb + AGENT_MEMORY_MB + SHARED_CODE_MB;
}

/**
 * The Docker create options of a session container: every hardening item of the design in one
 * place (no network, all capabilities dropped but the agent's few, no-new-privileges, the
 * project's seccomp profile, read-only root, pids/memory/cpu limits, ulimits, private IPC, an init, a minimal
 * environment and the labels the janitor finds orphans by).
 */
export function containerSpec(spec: SandboxSpec): ContainerCreateOptions {
  // The session's memory plus /tmp (a tmpfs) and the agent's share. /workspace is a disk-backed
  // filesystem: its page cache is reclaimable and never pins the limit.
  const memoryBytes = Math.round(containerMemoryMb(spec.limits.memory, spec.tmpMb) * MB);
  const diskBytes = Math.round(spec.limits.disk * MB);
  // One MiB above the disk: a file can never reach it on the disk-sized workspace, so filling
  // the disk gives ENOSPC (an error the program can handle) rather than SIGXFSZ.
  const fsizeBytes = diskBytes + MB;
  const env: AgentEnvironment = {
    BUNTIME_UID: String(spec.uid),
    BUNTIME_NPROC: String(spec.pidsLimit),
    BUNTIME_FSIZE: String(fsizeBytes),
    BUNTIME_DATA_SOCKET: DATA_SOCKET,
    ...(spec.npmRegistry ? { BUNTIME_NPM_REGISTRY: spec.npmRegistry } : {}),
  };
  return {
    name: `buntime-${spec.sessionId}`,
    Image: spec.image,
    // Nothing of the host's environment: the agent gets exactly these.
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    User: '0:0',
    WorkingDir: '/workspace',
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: false,
    Tty: false,
    NetworkDisabled: true,
    Labels: { 'buntime.session': spec.sessionId, 'buntime.node': spec.nodeId },
    HostConfig: {
      Runtime: spec.runtime,
      Init: true,
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      CapAdd: [...AGENT_CAPS],
      SecurityOpt: ['no-new-privileges', `seccomp=${spec.seccompProfile}`],
      ReadonlyRootfs: true,
      IpcMode: 'private',
      PidsLimit: spec.pidsLimit,
      Memory: memoryBytes,
      MemorySwap: memoryBytes,
      // A 1 s CFS period with the same share (0.25 cores: 250 ms a second) instead of Docker's
      // 100 ms: a short program's start-up (~25 ms of CPU) runs unthrottled instead of being cut
      // into 25 ms slices 75 ms apart; the long-run average is the same share (measured: a busy
      // loop averages 0.253 cores over 20 s at 0.25; a trivial run's p95 7 ms instead of 85 ms).
      CpuPeriod: CPU_PERIOD_US,
      CpuQuota: Math.round(spec.limits.cpu * CPU_PERIOD_US),
      Ulimits: [
        { Name: 'nofile', Soft: 4096, Hard: 4096 },
        { Name: 'fsize', Soft: fsizeBytes, Hard: fsizeBytes },
        { Name: 'core', Soft: 0, Hard: 0 },
      ],
      Tmpfs: {
        '/tmp': `rw,exec,nosuid,nodev,size=${spec.tmpMb * MB},mode=1777`,
        '/run/buntime': `rw,noexec,nosuid,nodev,size=${16 * MB},mode=0755`,
      },
      Mounts: [
        // /workspace is the only sizeable writable place: the session's own filesystem, its size
        // the disk quota (the host mount is nosuid,nodev; a bind keeps those flags).
        { Type: 'bind', Source: spec.workspaceDir, Target: '/workspace', BindOptions: { Propagation: 'rprivate' } },
        // The runner's data socket for this session; the directory is root-only (0700), so user
        // programs cannot reach it.
        { Type: 'bind', Source: spec.dataDir, Target: DATA_SOCKET_DIR, ReadOnly: true },
      ],
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'none', Config: {} },
    },
  };
}
