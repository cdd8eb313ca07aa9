import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { UidAllocator } from '../../runner/uid-allocator.ts';
import { WorkspaceStore } from '../../runner/workspace-store.ts';

/**
 * Removes what a test node leaves on the host once its runner has stopped and the test is over:
 * its containers, its workspaces (images, mounts, loop devices) and their uids. Runners never
 * delete a workspace whose session they cannot prove gone; a finished test can.
 */
export async function removeTestNode(nodeId: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const cfg = loadConfig(env);
  const docker = new Docker({ socketPath: cfg.DOCKER_SOCKET });
  const containers = await docker.listContainers({ all: true, filters: { label: [`buntime.node=${nodeId}`] } });
  for (const c of containers) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
  const dir = join(cfg.WORKSPACE_DIR, nodeId);
  const store = new WorkspaceStore({ dir, log: createLogger('warn') });
  const uids = new UidAllocator({ dir: cfg.UID_DIR });
  for (const id of await store.list()) {
    const meta = await store.meta(id);
    await store.remove(id);
    if (meta) await uids.release(meta.uid, { nodeId, sessionId: id });
  }
  await rm(dir, { recursive: true, force: true });
  await rm(`${dir}.unclaimed`, { recursive: true, force: true });
}
