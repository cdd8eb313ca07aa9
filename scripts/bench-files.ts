import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Buntime } from '@buntime/sdk';
import Docker from 'dockerode';

/**
 * File transfer through the whole service (HTTP → API → runner data plane → agent data channel →
 * the session's disk) next to `docker exec -i … cat` moving the same bytes into and out of the
 * same container, measured in the same run.
 */

const MB = 1024 * 1024;

export interface FileFigures {
  sizeMb: number;
  apiWriteMs: number;
  apiReadMs: number;
  execWriteMs: number;
  execReadMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** `docker exec -i <id> sh -c <script>` with `input` on stdin; resolves with its stdout. */
function dockerExec(containerId: string, script: string, input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['exec', '-i', containerId, '/bin/sh', '-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`docker exec exited ${code}`))));
    child.stdin.end(input);
  });
}

/** Median of `rounds` writes and reads of `sizeMb` MB of random bytes, both ways. */
export async function benchFiles(client: Buntime, sessionId: string, sizeMb: number, rounds = 3): Promise<FileFigures> {
  const data = randomBytes(sizeMb * MB);
  const [c] = await new Docker().listContainers({ filters: { label: [`buntime.session=${sessionId}`] } });
  if (!c) throw new Error(`no container for ${sessionId}`);
  const apiWrite: number[] = [];
  const apiRead: number[] = [];
  const execWrite: number[] = [];
  const execRead: number[] = [];
  for (let i = 0; i < rounds; i++) {
    apiWrite.push(await timed(() => client.files.write(sessionId, 'bench-api.bin', data)));
    apiRead.push(await timed(async () => {
      const back = await client.files.read(sessionId, 'bench-api.bin');
      if (back.length !== data.length) throw new Error('short read');
    }));
    execWrite.push(await timed(() => dockerExec(c.Id, 'cat > /workspace/bench-exec.bin', data)));
    execRead.push(await timed(async () => {
      const back = await dockerExec(c.Id, 'cat /workspace/bench-exec.bin');
      if (back.length !== data.length) throw new Error('short read');
    }));
  }
  return {
    sizeMb, apiWriteMs: median(apiWrite), apiReadMs: median(apiRead), execWriteMs: median(execWrite), execReadMs: median(execRead),
  };
}
