/**
 * `snapshot` and `restore-*` ops: the whole of /workspace as a tar (modes, symlinks, empty
 * directories kept), for deep sleep. The tar travels in base64 chunks: `snapshot` streams
 * `chunk` progress replies before its final one; a restore is opened, fed chunk by chunk, then
 * closed, so no message ever holds a whole workspace.
 */
import type { Subprocess } from 'bun';
import { WORKSPACE } from './paths.ts';
import { AgentError } from './protocol.ts';

const TAR = '/bin/tar';

export class Snapshots {
  private readonly restores = new Map<string, Subprocess<'pipe', 'ignore', 'pipe'>>();

  constructor(private readonly uid: number) {}

  async snapshot(onChunk: (base64: string) => void): Promise<{ bytes: number }> {
    const proc = Bun.spawn([TAR, '-c', '-f', '-', '-C', WORKSPACE, '.'], { stdout: 'pipe', stderr: 'pipe' });
    let bytes = 0;
    for await (const chunk of proc.stdout) {
      bytes += chunk.length;
      onChunk(Buffer.from(chunk).toString('base64'));
    }
    await this.check(proc, 'tar -c');
    return { bytes };
  }

  open(handle: string): { handle: string } {
    const proc = Bun.spawn([TAR, '-x', '-f', '-', '-C', WORKSPACE], { stdin: 'pipe', stdout: 'ignore', stderr: 'pipe' });
    this.restores.set(handle, proc);
    return { handle };
  }

  async write(handle: string, data: string): Promise<Record<string, never>> {
    const proc = this.handle(handle);
    proc.stdin.write(Buffer.from(data, 'base64'));
    await proc.stdin.flush();
    return {};
  }

  async close(handle: string): Promise<Record<string, never>> {
    const proc = this.handle(handle);
    this.restores.delete(handle);
    await proc.stdin.end();
    await this.check(proc, 'tar -x');
    // Everything in /workspace belongs to the session user, whatever the archive said.
    const chown = Bun.spawn(['/bin/chown', '-R', `${this.uid}:${this.uid}`, WORKSPACE], { stderr: 'pipe' });
    await this.check(chown, 'chown');
    return {};
  }

  private handle(handle: string): Subprocess<'pipe', 'ignore', 'pipe'> {
    const proc = this.restores.get(handle);
    if (!proc) throw new AgentError('not_found', 'no restore under way with that handle');
    return proc;
  }

  private async check(proc: Subprocess<'pipe' | 'ignore', 'pipe' | 'ignore', 'pipe'>, what: string): Promise<void> {
    const code = await proc.exited;
    if (code === 0) return;
    const err = proc.stderr instanceof ReadableStream ? await new Response(proc.stderr).text() : '';
    throw new AgentError(/No space left/.test(err) ? 'disk_full' : 'internal_error', `${what} failed: ${err.trim().slice(0, 300)}`);
  }
}
