import { statSync } from 'node:fs';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Buntime } from '@buntime/sdk';
import { newClient } from '../support/harness.ts';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
let client: Buntime;
let cleanup: () => Promise<void>;
let sessionId: string;
let info: Docker.ContainerInspectInfo;

beforeAll(async () => {
  ({ client, cleanup } = await newClient('free'));
  sessionId = (await client.sessions.create()).id;
  const [c] = await docker.listContainers({ filters: { label: [`buntime.session=${sessionId}`] } });
  info = await docker.getContainer(c!.Id).inspect();
});
afterAll(() => cleanup());

describe('session container hardening', () => {
  it('applies every hardening item of the design', () => {
    const h = info.HostConfig;
    expect(h.NetworkMode).toBe('none');
    expect((info.Config as { NetworkDisabled?: boolean }).NetworkDisabled).toBe(true);
    expect(h.CapDrop).toEqual(['ALL']);
    // The agent keeps only what it needs to run user code as another uid and manage its files.
    expect([...(h.CapAdd ?? [])].sort()).toEqual(['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'KILL', 'SETGID', 'SETUID']);
    expect(h.SecurityOpt).toContain('no-new-privileges');
    expect(h.SecurityOpt?.some((o: string) => o.startsWith('seccomp=unconfined'))).toBe(false);
    expect(h.Privileged).toBe(false);
    expect(h.ReadonlyRootfs).toBe(true);
    expect(h.PidsLimit).toBeGreaterThan(0);
    // memory + /tmp (a tmpfs) + the agent's share, MB; /workspace is on disk and not counted.
    expect(h.Memory).toBe((1024 + 64 + 32) * 1024 * 1024);
    expect(h.MemorySwap).toBe(h.Memory);
    // The plan's 0.25 cores as a share of a 1 s CFS period (short programs run unthrottled).
    expect([h.CpuPeriod, h.CpuQuota]).toEqual([1_000_000, 250_000]);
    const ulimits = Object.fromEntries((h.Ulimits ?? []).map((u) => [u.Name, u]));
    expect(ulimits.nofile?.Hard).toBeGreaterThan(0);
    expect(ulimits.fsize?.Hard).toBe(1025 * 1024 * 1024);
    expect(h.IpcMode).toBe('private');
    expect(h.Init).toBe(true);
    expect(Object.keys(h.Tmpfs ?? {}).sort()).toEqual(['/run/buntime', '/tmp']);
    expect(h.Binds ?? []).toEqual([]);
    // Two binds: the session's data socket directory, read-only, root-only on the host; and the
    // session's own workspace filesystem at /workspace.
    const binds = info.Mounts.filter((m) => m.Type === 'bind').sort((a, b) => a.Destination.localeCompare(b.Destination));
    expect(binds.map((b) => b.Destination)).toEqual(['/run/buntime-host', '/workspace']);
    expect(binds[0]).toMatchObject({ RW: false });
    expect(statSync(binds[0]!.Source).mode & 0o777).toBe(0o700);
    expect(statSync(binds[0]!.Source).uid).toBe(0);
    expect(binds[1]).toMatchObject({ RW: true, Propagation: 'rprivate' });
    expect(binds[1]!.Source).toMatch(new RegExp(`/mnt/${sessionId}$`));
    expect(info.Config.Labels['buntime.session']).toBe(sessionId);
    expect(info.Config.Labels['buntime.node']).toBeTruthy();
    expect(info.Config.Env.every((e) => e.startsWith('BUNTIME_') || e.startsWith('PATH='))).toBe(true);
  });

  it('mounts /workspace as a filesystem of its own, nosuid and nodev, owned by the session uid', async () => {
    const r = await client.execute({ sessionId, command: 'grep " /workspace " /proc/self/mountinfo; stat -c "%u %a" /workspace; id -u; df -k /workspace | tail -1' });
    const [mount, owner, uid, df] = r.stdout.trim().split('\n');
    const fields = mount!.split(' ');
    expect(fields[fields.indexOf('-') + 1]).toBe('ext4');
    expect(fields[5]!.split(',')).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev']));
    expect(owner).toBe(`${uid} 755`);
    // The quota is the disk limit: 1024 MB free in an empty workspace.
    expect(Number(df!.trim().split(/\s+/)[3])).toBeGreaterThanOrEqual(1024 * 1024);
  });

  it('cannot reach the runner\'s data socket', async () => {
    const code = `import net from 'node:net';
      const s = net.connect('/run/buntime-host/data.sock');
      s.on('connect', () => { console.log('CONNECTED'); s.destroy(); });
      s.on('error', (e) => console.log(e.code));`;
    const r = await client.execute({ sessionId, code });
    expect(r.stdout.trim()).toBe('EACCES');
    const ls = await client.execute({ sessionId, command: 'ls /run/buntime-host' });
    expect(ls.stderr).toMatch(/Permission denied/);
  });

  it('runs user code as a non-root uid with no capabilities and no_new_privs', async () => {
    const r = await client.execute({ sessionId, command: 'id -u; grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status' });
    const lines = r.stdout.trim().split('\n');
    expect(Number(lines[0])).toBeGreaterThan(0);
    const status = Object.fromEntries(lines.slice(1).map((l) => l.split(/:\s+/) as [string, string]));
    expect(status.CapEff).toBe('0000000000000000');
    expect(status.CapPrm).toBe('0000000000000000');
    expect(status.NoNewPrivs).toBe('1');
    expect(status.Seccomp).toBe('2');
  });

  it('shows user code none of the host environment', async () => {
    // The runner's own environment (npm's variables, REDIS_URL) must not reach the sandbox.
    expect(process.env.REDIS_URL).toBeTruthy();
    const r = await client.execute({ sessionId, command: 'env; cat /proc/1/environ 2>&1' });
    expect(r.stdout).not.toMatch(/REDIS_URL|DOCKER_|ADMIN_JWT|npm_|NODE_ID/);
    expect(r.stdout).toContain('Permission denied');
  });

  it('keeps the root filesystem read-only and the docker socket out of reach', async () => {
    const r = await client.execute({
      sessionId,
      command: 'touch /etc/x 2>&1; touch /usr/local/bin/x 2>&1; ls /var/run/docker.sock 2>&1; mount -t tmpfs none /mnt 2>&1; echo done',
    });
    expect(r.stdout).toMatch(/Read-only file system/);
    expect(r.stdout).toMatch(/docker.sock: No such file/);
    expect(r.stdout.trim().endsWith('done')).toBe(true);
    const check = await client.execute({ sessionId, command: 'ls /etc/x /usr/local/bin/x 2>&1 | grep -c "No such file"' });
    expect(check.stdout.trim()).toBe('2');
  });

  it('cannot signal or trace the agent', async () => {
    const r = await client.execute({ sessionId, command: 'for p in $(ps -o pid,user | awk \'$2=="root"||$2=="0"{print $1}\'); do kill -STOP $p 2>&1; kill -9 $p 2>&1; done; echo tried' });
    expect(r.stdout).toContain('tried');
    expect(r.stdout).toMatch(/Operation not permitted/);
    const after = await client.execute({ sessionId, command: 'echo agent alive' });
    expect(after.stdout).toBe('agent alive\n');
  });
});
