import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { z } from 'zod';

/** What is kept beside each workspace image (`<id>.json`) and each exported snapshot. */
export const workspaceMetaSchema = z.object({
  version: z.literal(1),
  sessionId: z.string(),
  /** The uid that owns the files: a remount or a restart hands the same uid back. */
  uid: z.number().int().min(0),
  /** The quota: what programs can fill, MB. */
  diskMb: z.number().int().min(1),
  /** Apparent (sparse) size of the image file, bytes. */
  imageBytes: z.number().int().min(0),
  /** Inodes of the filesystem (the file-count cap; ten are ext4's own). */
  inodes: z.number().int().min(0),
  createdAt: z.string(),
  /** The workspace or snapshot file this one was copied from, if any. */
  copiedFrom: z.string().optional(),
  /**
   * The uid the files still belong to when it is not `uid` (a copy, or a uid taken back by
   * another session): the session's agent re-owns them inside its container before any user
   * code runs, then the runner clears this. The host never walks a workspace's files.
   */
  reownFrom: z.number().int().min(0).optional(),
});
export type WorkspaceMeta = z.infer<typeof workspaceMetaSchema>;

/** Reads metadata; `undefined` when the file is absent. A corrupt file is an error. */
export async function readMeta(file: string): Promise<WorkspaceMeta | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return workspaceMetaSchema.parse(JSON.parse(text));
}

/** Writes metadata atomically and durably: a temp file, fsync, rename over the target. */
export async function writeMeta(file: string, meta: WorkspaceMeta): Promise<void> {
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fh = await open(temp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(meta));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
