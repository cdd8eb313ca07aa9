import { readFile } from 'node:fs/promises';

/** One line of `/proc/self/mountinfo`, the fields the workspace store needs. */
export interface MountEntry {
  /** `major:minor` of the mounted device. */
  device: string;
  mountPoint: string;
  fsType: string;
  /** e.g. `/dev/loop3`. */
  source: string;
}

/**
 * Parses mountinfo text (proc(5)): `id parent major:minor root mountpoint opts [tags…] - fstype
 * source superopts`. Paths come octal-escaped (`\040` for a space).
 */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    const [device, mountPoint] = [fields[2], fields[4]];
    const [fsType, source] = [fields[dash + 1], fields[dash + 2]];
    if (dash < 6 || !device || !mountPoint || !fsType || source === undefined) continue;
    out.push({ device, mountPoint: unescape(mountPoint), fsType, source: unescape(source) });
  }
  return out;
}

/** What is mounted on `path` now (the top of a stack of mounts), or undefined. */
export function mountAt(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  let top: MountEntry | undefined;
  for (const e of entries) if (e.mountPoint === path) top = e;
  return top;
}

/** The current process's mount table. */
export async function readMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
