import { access, mkdir, readdir, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BuntimeError } from '../core/errors.ts';
import { readMeta, type WorkspaceMeta } from './workspace-meta.ts';

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The layout of the workspace directory: `<id>.img` (the image), `<id>.json` (its metadata,
 * written last: the commit point), `<id>.img.part` (a copy under way), `mnt/<id>` (where the
 * image is mounted). Ids are checked before they become paths.
 */
export class WorkspaceDir {
  private constructor(readonly root: string) {}

  /** Creates the directory (0700) and resolves its real path, the one losetup and sysfs report. */
  static async open(dir: string): Promise<WorkspaceDir> {
    await mkdir(join(dir, 'mnt'), { recursive: true, mode: 0o700 });
    return new WorkspaceDir(await realpath(dir));
  }

  image(id: string): string {
    return join(this.root, `${checkId(id)}.img`);
  }

  part(id: string): string {
    return `${this.image(id)}.part`;
  }

  meta(id: string): string {
    return join(this.root, `${checkId(id)}.json`);
  }

  mountPoint(id: string): string {
    return join(this.root, 'mnt', checkId(id));
  }

  /** Directory of all mountpoints, with a trailing slash. */
  get mountPrefix(): string {
    return `${join(this.root, 'mnt')}/`;
  }

  /** Ids with committed metadata. */
  async ids(): Promise<string[]> {
    const names = await readdir(this.root);
    return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).filter((id) => ID.test(id));
  }

  /** What a crash left half-made: temp files to delete, and ids with an image but no metadata. */
  async leftovers(): Promise<{ files: string[]; ids: string[] }> {
    const names = await readdir(this.root);
    const files = names.filter((n) => n.endsWith('.part') || n.endsWith('.tmp')).map((n) => join(this.root, n));
    const ids = names
      .filter((n) => n.endsWith('.img') && !names.includes(`${n.slice(0, -4)}.json`))
      .map((n) => n.slice(0, -4))
      .filter((id) => ID.test(id));
    return { files, ids };
  }

  async readMeta(id: string): Promise<WorkspaceMeta | undefined> {
    return readMeta(this.meta(id));
  }

  /** Metadata of `id`; `not_found` (reason `workspace_missing`) when it or the image is gone. */
  async requireMeta(id: string): Promise<WorkspaceMeta> {
    const meta = await this.readMeta(id);
    if (!meta || !(await access(this.image(id)).then(() => true, () => false))) {
      throw new BuntimeError('not_found', 'no workspace of this session on this node', {
        details: { sessionId: id, reason: 'workspace_missing' },
      });
    }
    return meta;
  }

  /** Refuses to make `id` over an existing workspace. */
  async requireAbsent(id: string): Promise<void> {
    if (await this.readMeta(id)) {
      throw new BuntimeError('internal_error', 'a workspace of this session exists already', { details: { sessionId: id } });
    }
  }

  /** Deletes the files of `id` (image, partial copy, metadata); absent ones are fine. */
  async deleteFiles(id: string): Promise<void> {
    for (const file of [this.image(id), this.part(id), this.meta(id)]) await rm(file, { force: true });
  }
}

/** `id` when it is a valid workspace id (what session ids look like), else an error. */
export function checkId(id: string): string {
  if (!ID.test(id)) throw new BuntimeError('internal_error', 'invalid workspace id', { details: { sessionId: id } });
  return id;
}
