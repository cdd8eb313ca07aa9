import { execFile } from 'node:child_process';
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { newClient } from '../support/harness.ts';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

/** Runs `script` as root inside the container (docker exec): what is there, whatever user code can see. */
function asRoot(containerId: string, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', ['exec', containerId, '/bin/sh', '-c', script], { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      (err ? reject(new Error(stderr)) : resolve(stdout)));
  });
}

/** Every entry of the container's writable places but /workspace: name, owner, mode, type. */
const ROOT_PLACES = 'find /run/buntime /tmp /dev/shm -xdev | sort | while read -r p; do stat -c "%n %u:%g %a %F" "$p"; done';

// Swaps directory `d` and symlink `l` (→ /run/buntime) with renameat2(RENAME_EXCHANGE) as fast
// as it can until `stop` appears; prints how many swaps it made.
const RACER = `
import { dlopen, FFIType, ptr } from 'bun:ffi';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
const libc = dlopen('libc.so.6', {
  renameat2: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
});
mkdirSync('d', { recursive: true });
symlinkSync('/run/buntime', 'l');
const a = Buffer.from('d\\0'), b = Buffer.from('l\\0');
let swaps = 0;
for (;;) {
  for (let i = 0; i < 1000; i++) if (libc.symbols.renameat2(-100, ptr(a), -100, ptr(b), 2) === 0) swaps++;
  if (existsSync('stop')) break;
}
require('node:fs').writeFileSync('swaps', String(swaps));
`;

describe('the renameat2 race against the agent', () => {
  it('creates nothing outside /workspace while user code swaps a directory and a symlink under 200 file writes', async () => {
    const { client, cleanup } = await newClient('paid');
    try {
      const s = await client.sessions.create();
      const [c] = await docker.listContainers({ filters: { label: [`buntime.session=${s.id}`] } });
      const before = await asRoot(c!.Id, ROOT_PLACES);
      expect(before).toContain('/run/buntime ');

      await client.files.write(s.id, 'racer.ts', RACER);
      await s.spawn({ command: 'bun run racer.ts' });
      await new Promise((r) => setTimeout(r, 500));
      let written = 0;
      let refused = 0;
      const paths = Array.from({ length: 200 }, (_, i) => `d/s${i % 20}/t${i}/f${i}.txt`);
      for (let i = 0; i < paths.length; i += 20) {
        await Promise.all(paths.slice(i, i + 20).map(async (p) => {
          try {
            await client.files.write(s.id, p, `content ${p}`);
            written++;
          } catch (err) {
            // A path found swapped (400) or moved away mid-way (404): refused, nothing written.
            expect([400, 404]).toContain((err as { status: number }).status);
            refused++;
          }
        }));
      }
      await client.files.write(s.id, 'stop', '');
      let swaps = '';
      for (let i = 0; i < 100 && !swaps; i++) {
        swaps = await client.files.readText(s.id, 'swaps').catch(() => '');
        if (!swaps) await new Promise((r) => setTimeout(r, 100));
      }
      console.log(`renameat2 race: ${swaps} swaps, ${written} writes landed in /workspace, ${refused} refused`);
      expect(Number(swaps)).toBeGreaterThan(1000);
      expect(written + refused).toBe(200);

      // Nothing new (nor changed in owner or mode) in the places the agent as root could write.
      expect(await asRoot(c!.Id, ROOT_PLACES)).toBe(before);
      // And nothing in /workspace is root's: the agent wrote everything as the session uid.
      expect(await asRoot(c!.Id, 'find /workspace -xdev -user 0 | wc -l')).toBe('0\n');
      const uid = (await s.execute({ command: 'id -u' })).stdout.trim();
      expect(await asRoot(c!.Id, `find /workspace -xdev ! -user ${uid} | wc -l`)).toBe('0\n');
    } finally {
      await cleanup();
    }
  }, 180_000);
});
