import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { newClient } from './support/harness.ts';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const MB = 1024 * 1024;
const SESSIONS = 20;
const FILE_MB = 200;

/** The host's `Shmem` (tmpfs and shared memory pages), bytes. */
function hostShmem(): number {
  return Number(/^Shmem:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) * 1024;
}

/** `shmem` of every container memory cgroup on the host (cgroup v1 or v2 layout), bytes, by container id. */
function containerShmem(): Map<string, number> {
  const out = new Map<string, number>();
  for (const root of ['/sys/fs/cgroup/memory/docker', '/sys/fs/cgroup/system.slice', '/sys/fs/cgroup/docker']) {
    let names: string[];
    try {
      names = readdirSync(root);
    } catch {
      continue;
    }
    for (const name of names) {
      const id = /^(?:docker-)?([0-9a-f]{64})(?:\.scope)?$/.exec(name)?.[1];
      if (!id) continue;
      try {
        const stat = readFileSync(join(root, name, 'memory.stat'), 'utf8');
        out.set(id, Number(/^shmem (\d+)$/m.exec(stat)?.[1] ?? 0));
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

function sum(map: Map<string, number>, keep: (id: string) => boolean): number {
  let total = 0;
  for (const [id, v] of map) if (keep(id)) total += v;
  return total;
}

/** Files live on disk: what sessions write is reclaimable page cache, never pinned shared memory. */
describe('files do not pin memory', () => {
  it(`${SESSIONS} sessions writing ${FILE_MB} MB each grow the host's Shmem by less than 100 MB`, async () => {
    const { client, cleanup } = await newClient('paid');
    try {
      const sessions = await Promise.all(Array.from({ length: SESSIONS }, () => client.sessions.create()));
      const ours = new Set<string>();
      for (const s of sessions) {
        const [c] = await docker.listContainers({ filters: { label: [`buntime.session=${s.id}`] } });
        ours.add(c!.Id);
      }
      const shmem0 = hostShmem();
      const others0 = containerShmem();
      for (let i = 0; i < SESSIONS; i += 5) {
        await Promise.all(sessions.slice(i, i + 5).map(async (s) => {
          const r = await s.execute({ command: `dd if=/dev/urandom of=data bs=1M count=${FILE_MB} 2>/dev/null && sync && ls -l data`, timeout: 120 });
          expect(r.stdout).toContain(String(FILE_MB * MB));
        }));
      }
      const shmem1 = hostShmem();
      const others1 = containerShmem();
      const oursShmem = sum(others1, (id) => ours.has(id));
      // Other tests on this host (their own containers) may add shared memory meanwhile: the
      // kernel counts it per container, so it is left out of the host's growth.
      const othersGrowth = sum(others1, (id) => !ours.has(id)) - sum(others0, (id) => !ours.has(id) && others1.has(id));
      const growth = shmem1 - shmem0 - Math.max(0, othersGrowth);
      console.log(`Shmem: host ${Math.round((shmem1 - shmem0) / MB)} MB, other containers ${Math.round(othersGrowth / MB)} MB,`
        + ` these ${SESSIONS} containers ${Math.round(oursShmem / MB)} MB, for ${SESSIONS * FILE_MB} MB written`);
      expect(oursShmem).toBeLessThan(100 * MB);
      expect(growth).toBeLessThan(100 * MB);
      // And the files are all there.
      const sizes = await Promise.all(sessions.map((s) => s.execute({ command: 'stat -c %s data' })));
      expect(sizes.map((r) => r.stdout)).toEqual(Array(SESSIONS).fill(`${FILE_MB * MB}\n`));
    } finally {
      await cleanup();
    }
  }, 600_000);
});
