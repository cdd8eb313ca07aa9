import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentClient } from './agent-client.ts';

/** Bytes of tar per restore message. */
const CHUNK = 256 * 1024;

/**
 * Workspace snapshots of deep-sleeping sessions: a tar per session in a directory of the
 * runner's host (a shared mount makes them visible to every node). Saved from and restored into
 * a sandbox through its agent, chunk by chunk.
 */
export class SnapshotStore {
  constructor(private readonly dir: string) {}

  /** Streams the session's /workspace into its snapshot; bytes written. */
  async save(agent: AgentClient, sessionId: string): Promise<number> {
    await mkdir(this.dir, { recursive: true });
    const partial = `${this.path(sessionId)}.part`;
    const out = createWriteStream(partial);
    const written = new Promise<void>((resolve, reject) => { out.on('finish', resolve); out.on('error', reject); });
    try {
      await agent.call('snapshot', {}, (p) => { if (p.type === 'chunk') out.write(Buffer.from(p.data, 'base64')); });
    } catch (err) {
      out.destroy();
      await rm(partial, { force: true });
      throw err;
    }
    out.end();
    await written;
    await rename(partial, this.path(sessionId));
    return (await stat(this.path(sessionId))).size;
  }

  /** Unpacks the session's snapshot into the (empty) /workspace of a new sandbox. */
  async restore(agent: AgentClient, sessionId: string): Promise<void> {
    const { handle } = await agent.call('restore-open', {});
    for await (const chunk of createReadStream(this.path(sessionId), { highWaterMark: CHUNK })) {
      await agent.call('restore-write', { handle, data: (chunk as Buffer).toString('base64') });
    }
    await agent.call('restore-close', { handle });
  }

  async remove(sessionId: string): Promise<void> {
    await rm(this.path(sessionId), { force: true });
    await rm(`${this.path(sessionId)}.part`, { force: true });
  }

  private path(sessionId: string): string {
    return join(this.dir, `${sessionId.replace(/[^\w-]/g, '_')}.tar`);
  }
}
