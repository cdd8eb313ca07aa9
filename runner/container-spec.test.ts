import { describe, expect, it } from 'vitest';
import { containerMemoryMb, containerSpec, memoryReserveMb } from './container-spec.ts';

const MB = 1024 * 1024;
const spec = containerSpec({
  sessionId: 'ses_x', nodeId: 'n', image: 'img', runtime: 'runc', uid: 200_001,
  limits: { memory: 256, cpu: 0.5, timeout: 30, disk: 64 }, pidsLimit: 128, tmpMb: 64, seccompProfile: '{}',
  dataDir: '/run/buntime/sockets/ses_x', workspaceDir: '/var/lib/buntime/workspaces/n/mnt/ses_x',
});

describe('containerSpec', () => {
  it('limits memory to the session\'s memory plus /tmp and the agent, whatever the disk', () => {
    expect(spec.HostConfig?.Memory).toBe((256 + 64 + 32) * MB);
    expect(spec.HostConfig?.MemorySwap).toBe(spec.HostConfig?.Memory);
    expect(containerMemoryMb(256, 64)).toBe(352);
    // memoryUsed stays within memory + the reserve (which also covers Bun's shared code pages).
    expect(memoryReserveMb(64)).toBe(128);
  });

  it('binds the workspace filesystem at /workspace (no tmpfs there) and the data socket read-only', () => {
    expect(Object.keys(spec.HostConfig?.Tmpfs ?? {}).sort()).toEqual(['/run/buntime', '/tmp']);
    expect(spec.HostConfig?.Mounts).toEqual([
      { Type: 'bind', Source: '/var/lib/buntime/workspaces/n/mnt/ses_x', Target: '/workspace', BindOptions: { Propagation: 'rprivate' } },
      { Type: 'bind', Source: '/run/buntime/sockets/ses_x', Target: '/run/buntime-host', ReadOnly: true },
    ]);
    expect(spec.HostConfig?.Ulimits).toContainEqual({ Name: 'fsize', Soft: 65 * MB, Hard: 65 * MB });
  });
});
