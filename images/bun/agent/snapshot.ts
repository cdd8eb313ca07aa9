/**
 * `snapshot` and `restore-*` ops: the whole of /workspace as a tar (modes, symlinks, empty
 * directories kept), for deep sleep. The tar travels in base64 chunks: `snapshot` streams
 * `chunk` replies before its final one; a restore is opened, fed chunk by chunk, then closed,
 * so no message ever holds a whole workspace.
 */
import type { Subprocess } from 'bun';
import { send, type Reply } from './channel.ts';
import { WORKSPACE } from './paths.ts';
import { AgentError, str, type Fields } from './protocol.ts';

const TAR = '/bin/tar';

export class Snapshots {
  private readonly restores = new Map<string, Subprocess<'pipe', 'ignore', 'pipe'>>();

  constructor(private readonly uid: number) {}

  async snapshot(id: string): Promise<Reply> {
    const proc = Bun.spawn([TAR, '-c', '-f', '-', '-C', WORKSPACE, '.'], { stdout: 'pipe', stderr: 'pipe' });
    let bytes = 0;
    for await (const chunk of proc.stdout) {
      bytes += chunk.length;
      send({ id, type: 'chunk', data: Buffer.from(chunk).toString('base64') });
    }
    await this.check(proc, 'tar -c');
    return { id, type: 'snapshotted', bytes };
  }

  open(id: string): Reply {
    const proc = Bun.spawn([TAR, '-x', '-f', '-', '-C', WORKSPACE], { stdin: 'pipe', stdout: 'ignore', stderr: 'pipe' });
    this.restores.set(id, proc);
    return { id, type: 'restoring', handle: id };
  }

  async write(id: string, req: Fields): Promise<Reply> {
    const proc = this.handle(req);
    proc.stdin.write(Buffer.from(str(req, 'data'), 'base64'));
    await proc.stdin.flush();
    return { id, type: 'written' };
  }

  async close(id: string, req: Fields): Promise<Reply> {
    const proc = this.handle(req);
    this.restores.delete(str(req, 'handle'));
    await proc.stdin.end();
    await this.check(proc, 'tar -x');
    // Everything in /workspace belongs to the session user, whatever the archive said.
    const chown = Bun.spawn(['/bin/chown', '-R', `${this.uid}:${this.uid}`, WORKSPACE], { stderr: 'pipe' });
    await this.check(chown, 'chown');
    return { id, type: 'restored' };
  }

  private handle(req: Fields): Subprocess<'pipe', 'ignore', 'pipe'> {
    const proc = this.restores.get(str(req, 'handle'));
    if (!proc) throw new AgentError('not_found', 'no restore under way with that handle');
    return proc;
  }

  private async check(proc: Subprocess<any, any, any>, what: string): Promise<void> {
    const code = await proc.exited;
    if (code === 0) return;
    const err = proc.stderr instanceof ReadableStream ? await new Response(proc.stderr).text() : '';
    throw new AgentError(/No space left/.test(err) ? 'disk_full' : 'internal_error', `${what} failed: ${err.trim().slice(0, 300)}`);
  }
}
